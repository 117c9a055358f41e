"""source-contacts read, run as a CLI against the sandbox: paging, one pass, faults, rate limit, incremental."""

from integration_tests.connector import (
    as_emitted,
    assert_no_leak,
    ids,
    list_requests,
    requests_of,
    run_connector,
    source_config,
)
from integration_tests.connector import (
    source_catalog as catalog,
)

# The sentinel search (source_contacts/walk.py), then the walk, of N contacts at L per page.
SEARCH_250_AT_40 = [1, 2, 4, 8, 6, 7]  # 6 full pages and a short 7th: doubling to 8 (empty), halving to 6, then 7 (short)
WALK_250_AT_40 = list(range(1, 9))  # the walk ends on the empty page 8


def test_silent_limit_cap_loses_nothing_and_ends_on_an_empty_page(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=250, max_limit=40)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert ids(run.records["contacts"]) == [contact["id"] for contact in api.snapshot()]
    # 40 per page: page 1 asks for 100, then every request asks for the 40 the server serves.
    assert list_requests(api) == requests_of(SEARCH_250_AT_40 + WALK_250_AT_40, 40, first_limit=100)


def test_full_last_page_costs_one_extra_request(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=200)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 200
    # The search: pages 1, 2 (full), 4 (empty), 3 (empty); the walk: 1, 2 and the empty 3.
    assert list_requests(api) == requests_of([1, 2, 4, 3, 1, 2, 3], 100)


def test_records_are_the_api_contacts_unchanged(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=60)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.records["contacts"] == [as_emitted(c) for c in api.snapshot()]


def test_server_ignoring_page_fails_clearly_without_duplicates(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300, ignore_page=True)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode != 0
    assert "contacts" not in run.records  # seen on the second request, before any contact went out
    assert run.errors[0]["message"] == (
        "The Contacts API served the same 100 contacts for page 2 as for page 1: the server ignores "
        "the `page` parameter, or serves its last page again past the end of the list. The sync stops "
        "here rather than loop or emit duplicates."
    )
    assert list_requests(api) == requests_of([1, 2], 100)


def test_both_streams_cost_the_same_requests_as_contacts_alone(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=450, max_limit=100)
    alone = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    requests_alone = len(api.requests)
    api.reset_requests()
    both = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts", "contact_tags"))
    assert alone.returncode == both.returncode == 0
    # The search: 1, 2, 4 (full), 8 (empty), 6 (empty), 5 (short); the walk: 1 to the empty 6.
    assert len(api.requests) == requests_alone == 6 + 6
    assert both.records["contacts"] == alone.records["contacts"]
    expected_tags = [
        as_emitted({"contact_id": c["id"], "tag": tag, "updatedAt": c.get("updatedAt")})
        for c in api.snapshot()
        for tag in c.get("tags") or []
    ]
    assert both.records["contact_tags"] == expected_tags
    # contact_tags alone also reads the API once.
    api.reset_requests()
    tags_alone = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contact_tags"))
    assert tags_alone.records["contact_tags"] == expected_tags and len(api.requests) == 12


def test_filters_are_sent_as_the_api_parameters(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=120)
    config = source_config(api, tags=["VIP", "café"], location_id="loc-1", channel="Whatsapp", search_text="a")
    run = run_connector("source-contacts", "read", tmp_path, config, catalog("contacts"))
    assert run.returncode == 0, run.stderr
    first = api.requests[0].query
    assert {key: first[key] for key in ("tags", "locationId", "channel", "searchText")} == {
        "tags": "VIP,café",
        "locationId": "loc-1",
        "channel": "Whatsapp",
        "searchText": "a",
    }


def test_5xx_and_dropped_connections_are_retried_without_loss_or_duplicates(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=1000, error_rate=0.2, drop_rate=0.1)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts", "contact_tags"))
    assert run.returncode == 0, run.stderr
    assert ids(run.records["contacts"]) == [contact["id"] for contact in api.snapshot()]
    failed = [r for r in api.requests if r.status is None or r.status >= 500]
    assert failed, "the fault rates should have hit some requests"


def test_429_waits_out_retry_after_and_the_sync_finishes(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300, requests_per_minute=2, window_seconds=2)
    run = run_connector(
        "source-contacts", "read", tmp_path, source_config(api, page_size=50, requests_per_minute=1000), catalog("contacts")
    )
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 300
    assert api.throttled > 0
    assert api.early_requests == 0
    assert any("for the rate limit" in line for line in run.logs)


def test_401_fails_at_once_as_a_config_error_naming_the_problem(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=10, echo_headers_in_errors=True)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, api_key="wrong-key-123"), catalog("contacts"))
    assert run.returncode != 0
    assert len(api.requests) == 1
    assert run.errors[0]["failure_type"] == "config_error"
    assert "rejected the API key (HTTP 401" in run.errors[0]["message"]
    assert_no_leak(run, "wrong-key-123")


def test_key_never_printed_even_when_error_bodies_echo_headers(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=1000, echo_headers_in_errors=True, error_rate=0.5)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert any(r.status and r.status >= 500 for r in api.requests)
    assert_no_leak(run)


def test_budget_keeps_under_requests_per_minute_without_a_single_429(sandbox_factory, tmp_path):
    """36 requests at 20 per minute, in the test's virtual time: the sentinel search (1, 2, 4, 8, 16, 32, 24, 28, 26,
    25) and the walk of 26 pages."""
    api = sandbox_factory(contacts=250, requests_per_minute=20, window_seconds=60)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=10, requests_per_minute=20), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 250
    assert api.throttled == 0 and len(api.requests) == 36
    times = [r.received_at for r in api.requests]
    assert max(sum(1 for t in times if start <= t < start + 60) for start in times) == 20
    assert any(line.startswith("waiting ") and line.endswith(" s for the rate limit (20 requests per 61 s)") for line in run.logs)
