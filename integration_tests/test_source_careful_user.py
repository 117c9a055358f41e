"""Issue 12 §8: what a careful user tries next, against the real CLI and the sandbox: the edges of the adaptive walk,
filters on every request, a server that serves its last page again past the end, a redirect loop."""

from integration_tests.connector import as_emitted, list_requests, requests_of, run_connector, source_config
from integration_tests.connector import source_catalog as catalog


def test_an_empty_account_costs_one_request_and_says_nothing(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = run_connector(
        "source-contacts", "read", tmp_path, source_config(api), catalog("contacts", "contact_tags", sync_mode="incremental")
    )
    assert run.returncode == 0, run.stderr
    assert run.records == {} and run.warnings == []
    assert list_requests(api) == [("1", "1000")]


def test_exactly_one_full_page_costs_two_requests(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=1000)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    assert list_requests(api) == [("1", "1000"), ("2", "1000")]


def test_a_page_size_above_the_servers_cap_adapts_instead_of_losing_contacts(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=250, max_limit=100, cap_after_offset=True)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=500), catalog("contacts"))
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    assert list_requests(api) == requests_of([1, 2, 4, 3, 1, 2, 3, 4], 100, first_limit=500)


def test_filters_go_with_every_request_of_the_search_and_the_walk(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=3000)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, channel="Whatsapp", tags=["VIP"]), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    expected = [c for c in api.snapshot() if c.get("channel") == "Whatsapp" and "VIP" in (c.get("tags") or [])]
    assert run.records["contacts"] == [as_emitted(contact) for contact in expected] and 0 < len(expected) < 1000
    assert {(r.query["channel"], r.query["tags"]) for r in api.requests} == {("Whatsapp", "VIP")}


def test_a_server_that_serves_its_last_page_past_the_end_fails_clearly_without_duplicates(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=250, clamp_page=True)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 1
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]  # each once
    # The search takes page 4 (page 3 again, short) for the last; the walk sees page 4 repeat page 3 and stops.
    assert list_requests(api) == requests_of([1, 2, 4, 1, 2, 3, 4], 100)
    assert run.errors[0]["message"] == (
        "The Contacts API served the same 50 contacts for page 4 as for page 3: the server ignores the `page` "
        "parameter, or serves its last page again past the end of the list. The sync stops here rather than "
        "loop or emit duplicates."
    )


def test_a_redirect_loop_on_the_same_host_fails_after_five_redirects(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=5)
    api.faults.redirect_to = api.url
    run = run_connector("source-contacts", "check", tmp_path, source_config(api))
    assert run.status == {
        "status": "FAILED",
        "message": "The Contacts API redirected GET /v1/contacts more than 5 times, last to "
        f"{api.url}/v1/contacts?limit=1&page=1: a redirect loop. Check base_url.",
    }
    assert len(api.requests) == 6
