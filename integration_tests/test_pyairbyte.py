"""PyAirbyte runs source-contacts from its executable and loads both streams into DuckDB."""

from sqlalchemy import text

from examples.sync_to_duckdb import sync
from integration_tests.connector import source_config


def test_pyairbyte_reads_both_streams_into_duckdb_with_exact_counts(sandbox_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    api = sandbox_factory(contacts=420, max_limit=50)
    cache = sync(source_config(api, page_size=100), tmp_path / "contacts.duckdb")
    contacts = api.snapshot()
    with cache.get_sql_engine().connect() as connection:
        assert connection.execute(text("select count(*), count(distinct id) from contacts")).one() == (420, 420)
        assert {row[0] for row in connection.execute(text("select id from contacts"))} == {c["id"] for c in contacts}
        tag_rows = connection.execute(text("select contact_id, tag from contact_tags order by contact_id, tag")).all()
    assert tag_rows == sorted((c["id"], tag) for c in contacts for tag in c.get("tags") or [])
    # one check request, then nine pages of at most 50 (the last one short)
    assert len(api.requests) == 1 + 9
