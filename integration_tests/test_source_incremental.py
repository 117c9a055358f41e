"""Incremental reads on updatedAt, filtered client-side, with state after every page."""

import requests

from integration_tests.connector import API_KEY, as_emitted, run_connector, source_config, stream_states
from integration_tests.connector import source_catalog as catalog


def test_start_date_bounds_the_first_sync_and_state_moves_to_the_newest_update(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300)
    contacts = api.snapshot()
    start = "2026-01-01T00:00:00Z"
    config = source_config(api, start_date=start, page_size=100)
    first = run_connector("source-contacts", "read", tmp_path, config, catalog("contacts", "contact_tags", sync_mode="incremental"))
    assert first.returncode == 0, first.stderr
    expected = [c for c in contacts if not c.get("updatedAt") or c["updatedAt"] >= start]
    assert first.records["contacts"] == [as_emitted(c) for c in expected]
    assert any(not c.get("updatedAt") for c in expected) and len(expected) < len(contacts)
    newest = max(c["updatedAt"] for c in contacts if c.get("updatedAt"))
    # Four pages (three full, one empty): a state after each, the start bound until the walk ends, then the newest.
    for stream in ("contacts", "contact_tags"):
        assert stream_states(first, stream) == [{"updatedAt": "2026-01-01T00:00:00.000Z"}] * 4 + [{"updatedAt": newest}]

    # A contact changed since: the next sync emits it, the newest of the last sync and those without updatedAt.
    changed = contacts[5]
    requests.put(
        f"{api.url}/v1/contacts/{changed['id']}",
        json={"name": "Renamed Ünïcode", "phoneNumber": changed["phoneNumber"]},
        headers={"x-api-key": API_KEY},
        timeout=10,
    ).raise_for_status()
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "contacts"}, "stream_state": {"updatedAt": newest}}}]
    second = run_connector("source-contacts", "read", tmp_path, config, catalog("contacts", sync_mode="incremental"), state=state)
    assert second.returncode == 0, second.stderr
    now = api.snapshot()
    assert second.records["contacts"] == [as_emitted(c) for c in now if not c.get("updatedAt") or c["updatedAt"] >= newest]
    assert changed["id"] in [c["id"] for c in second.records["contacts"]]


def test_full_refresh_ignores_the_bound(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=80)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, start_date="2030-01-01T00:00:00Z"), catalog("contacts"))
    assert run.records["contacts"] == [as_emitted(c) for c in api.snapshot()]
