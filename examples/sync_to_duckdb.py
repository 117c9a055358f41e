"""The main job, end to end with no account: sync the sandbox API into DuckDB through PyAirbyte, change the data
there as a team would (tag the leads of one location), write it back and show that it landed.

    python examples/sync_to_duckdb.py [--contacts 1000] [--db contacts.duckdb]

Against a real account, drop the sandbox and put your key and host in the configs.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no registry lookups, no telemetry
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402
from airbyte.caches import DuckDBCache  # noqa: E402
from airbyte.results import ReadResult  # noqa: E402
from sqlalchemy import text  # noqa: E402

from integration_tests.sandbox import SandboxAPI  # noqa: E402

BIN = Path(sys.executable).parent
CAMPAIGN_TAG = "q4-callback"


def sync(config: dict, db_path: Path) -> ReadResult:
    source = ab.get_source("source-contacts", config=config, local_executable=BIN / "source-contacts")
    source.check()
    source.select_streams(["contacts", "contact_tags"])
    cache = DuckDBCache(db_path=db_path, cache_dir=db_path.parent / ".cache")
    return source.read(cache=cache, force_full_refresh=True)


def write_back(result: ReadResult, config: dict, streams: list) -> None:
    """The cached tables, as they are now, into destination-contacts: upserts matched by id, else by phone."""
    destination = ab.get_destination("destination-contacts", config=config, local_executable=BIN / "destination-contacts")
    destination.write(result, streams=streams, write_strategy="merge", force_full_refresh=True)


def tag_leads_of_one_location(result: ReadResult) -> tuple:
    """The warehouse side of reverse ETL: the leads of the location with the most leads get the campaign tag."""
    with result.get_sql_engine().begin() as sql:
        location_id, title, leads = sql.execute(
            text(
                "select json_extract_string(location, '$.id') id, json_extract_string(location, '$.title') title, count(*) n "
                "from contacts where stage = 'Lead' and location is not null group by all order by n desc, id limit 1"
            )
        ).one()
        sql.execute(
            text(
                "update contacts set tags = to_json(list_append(coalesce(from_json(tags, '[\"VARCHAR\"]'), []), :tag)) "
                "where stage = 'Lead' and json_extract_string(location, '$.id') = :location"
            ),
            {"tag": CAMPAIGN_TAG, "location": location_id},
        )
    return title, leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=Path("contacts.duckdb"))
    args = parser.parse_args()

    with SandboxAPI(contacts=args.contacts, max_limit=50) as api:
        connection = {"api_key": api.api_key, "base_url": api.url}
        print(f"Sandbox Contacts API with {args.contacts} contacts on {api.url} (it serves at most 50 per page)")
        result = sync(connection, args.db.resolve())  # page_size unset: the largest page the server serves
        print(f"Read: {len(api.requests)} API requests")
        with result.get_sql_engine().connect() as sql:
            for table in ("contacts", "contact_tags"):
                print(f"  {table}: {sql.execute(text(f'select count(*) from {table}')).scalar()} rows")
            print(
                "  top tags: "
                + ", ".join(
                    f"{tag} ({n})"
                    for tag, n in sql.execute(text("select tag, count(*) n from contact_tags group by tag order by n desc, tag limit 5"))
                )
            )
            print("  a few contacts:")
            for row in sql.execute(text("select id, name, phonenumber, stage from contacts order by id limit 3")):
                print("    " + " | ".join(str(value) for value in row))

        title, leads = tag_leads_of_one_location(result)
        print(f"\nIn DuckDB: tagged the {leads} leads of '{title}' with '{CAMPAIGN_TAG}'")
        api.reset_requests()
        write_back(result, connection, streams=["contacts"])
        writes = [r for r in api.requests if r.method != "GET"]
        landed = [c for c in api.snapshot() if CAMPAIGN_TAG in (c.get("tags") or [])]
        print(
            f"Write-back: {len(api.requests) - len(writes)} reads to match, {len(writes)} writes "
            f"({', '.join(sorted({r.path.rsplit('/', 2)[-2] + '/' + r.path.rsplit('/', 1)[-1] for r in writes}))})"
        )
        print(f"In the API now: {len(landed)} contacts carry '{CAMPAIGN_TAG}'{' — all of them landed' if len(landed) == leads else ''}")
    print(f"\nDuckDB file: {args.db.resolve()}")


if __name__ == "__main__":
    main()
