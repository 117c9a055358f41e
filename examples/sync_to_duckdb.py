"""The main job, end to end with no account: start the sandbox API, sync both streams into DuckDB through PyAirbyte.

    python examples/sync_to_duckdb.py [--contacts 1000] [--db contacts.duckdb]

Against a real account, drop the sandbox and put your key and host in CONFIG.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no registry lookups, no telemetry
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402
from airbyte.caches import DuckDBCache  # noqa: E402
from sqlalchemy import text  # noqa: E402

from integration_tests.sandbox import SandboxAPI  # noqa: E402

BIN = Path(sys.executable).parent


def sync(config: dict, db_path: Path) -> DuckDBCache:
    source = ab.get_source("source-contacts", config=config, local_executable=BIN / "source-contacts")
    source.check()
    source.select_streams(["contacts", "contact_tags"])
    cache = DuckDBCache(db_path=db_path, cache_dir=db_path.parent / ".cache")
    source.read(cache=cache, force_full_refresh=True)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=Path("contacts.duckdb"))
    args = parser.parse_args()

    with SandboxAPI(contacts=args.contacts, max_limit=50) as api:
        print(f"Sandbox Contacts API with {args.contacts} contacts on {api.url} (it serves at most 50 per page)")
        cache = sync({"api_key": api.api_key, "base_url": api.url, "page_size": 100}, args.db.resolve())
        print(f"API requests spent: {len(api.requests)}")

    with cache.get_sql_engine().connect() as connection:
        for table in ("contacts", "contact_tags"):
            print(f"{table}: {connection.execute(text(f'select count(*) from {table}')).scalar()} rows")
        print("\nTop tags:")
        for tag, count in connection.execute(text("select tag, count(*) n from contact_tags group by tag order by n desc, tag limit 5")):
            print(f"  {tag:<15} {count}")
        print("\nA few contacts:")
        for row in connection.execute(text("select id, name, phonenumber, stage from contacts order by id limit 5")):
            print("  " + " | ".join(str(value) for value in row))
    print(f"\nDuckDB file: {args.db.resolve()}")


if __name__ == "__main__":
    main()
