"""PyAirbyte runs source-contacts from its executable and loads both streams into DuckDB."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from examples.sync_to_duckdb import CAMPAIGN_TAG, sync, tag_leads_of_one_location, write_back
from integration_tests.connector import source_config


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """PyAirbyte without network or telemetry, in every test here."""
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


def test_pyairbyte_reads_both_streams_into_duckdb_with_exact_counts(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=420, max_limit=50)
    cache = sync(source_config(api, page_size=100), tmp_path / "contacts.duckdb").cache
    contacts = api.snapshot()
    with cache.get_sql_engine().connect() as connection:
        assert connection.execute(text("select count(*), count(distinct id) from contacts")).one() == (420, 420)
        assert {row[0] for row in connection.execute(text("select id from contacts"))} == {c["id"] for c in contacts}
        tag_rows = connection.execute(text("select contact_id, tag from contact_tags order by contact_id, tag")).all()
    assert tag_rows == sorted((c["id"], tag) for c in contacts for tag in c.get("tags") or [])
    # One check request; the sentinel search (1, 2, 4, 8, 16, 12, 10, 9); nine pages of at most 50 and the empty end.
    assert len(api.requests) == 1 + 8 + 10


WRITTEN_FIELDS = ("name", "phoneNumber", "stage", "notes", "location", "customFields")


def contact_set(api):
    """What a contact is, whatever its id: the fields the destination writes, and its tag set."""
    return sorted(
        (repr({f: c.get(f) for f in WRITTEN_FIELDS if c.get(f) is not None}), tuple(sorted(c.get("tags") or []))) for c in api.snapshot()
    )


def test_round_trip_from_one_account_through_duckdb_into_an_empty_one(sandbox_factory, tmp_path):
    origin, target = sandbox_factory(contacts=120), sandbox_factory(contacts=0)
    result = sync(source_config(origin), tmp_path / "contacts.duckdb")
    unthrottled = source_config(target, requests_per_minute=10_000)  # the sandbox has no limit here; the test measures requests
    write_back(result, unthrottled, streams=["contacts"])
    assert len(target.snapshot()) == 120
    assert contact_set(target) == contact_set(origin)
    # The same data again changes nothing and writes nothing.
    target.reset_requests()
    write_back(result, unthrottled, streams=["contacts"])
    assert [r.method for r in target.requests if r.method != "GET"] == []
    assert contact_set(target) == contact_set(origin)


def test_main_job_change_in_duckdb_lands_as_tag_calls_only(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300)
    config = source_config(api, requests_per_minute=10_000)
    result = sync(config, tmp_path / "contacts.duckdb")
    before = {c["id"]: c for c in api.snapshot()}
    title, leads = tag_leads_of_one_location(result)
    api.reset_requests()
    write_back(result, config, streams=["contacts"])
    tagged = sorted(c["id"] for c in before.values() if c.get("stage") == "Lead" and (c.get("location") or {}).get("title") == title)
    assert len(tagged) == leads > 0
    writes = sorted((r.method, r.path, r.body["tags"]) for r in api.requests if r.method != "GET")
    assert writes == [("POST", f"/v1/contacts/{contact_id}/tags/add", [CAMPAIGN_TAG]) for contact_id in tagged]
    after = {c["id"]: c for c in api.snapshot()}
    assert {i for i, c in after.items() if CAMPAIGN_TAG in c["tags"]} == set(tagged)
    assert all(after[i]["tags"] == before[i]["tags"] for i in after if i not in tagged)


def test_the_readme_main_job_runs_end_to_end(tmp_path):
    """`./run demo` as a newcomer runs it, on a smaller account."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "sync_to_duckdb.py"), "--contacts", "300", "--db", str(tmp_path / "demo.duckdb")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root), "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "contacts: 300 rows" in done.stdout
    assert "— all of them landed" in done.stdout
