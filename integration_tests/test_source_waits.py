"""Issue 12 §4: waits that are wrong. The real CLI against a sandbox that sends Retry-After in either form, spends a
daily quota, accepts and never answers, or meets a read that starts right after `check`, on the test's virtual clock:
the connector waits what the server asked and no more, refuses waits past the ceiling, and names the real cause."""

import pytest

from integration_tests.connector import as_emitted, list_requests, run_connector, source_config
from integration_tests.connector import source_catalog as catalog


@pytest.mark.parametrize("retry_after_date", [False, True], ids=["seconds", "HTTP date"])
def test_retry_after_is_waited_exactly_in_either_form(sandbox_factory, tmp_path, clock, retry_after_date):
    api = sandbox_factory(contacts=50, requests_per_minute=1, retry_after_date=retry_after_date)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, requests_per_minute=1000), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    # The single page, then the end of the list: refused once with 60 s to wait, then answered.
    assert [(r.query["page"], r.status) for r in api.requests] == [("1", 200), ("2", 429), ("2", 200)]
    assert "The Contacts API rate limit was reached (HTTP 429). Retrying GET /v1/contacts?limit=50&page=2 in 60 s (try 2)." in run.logs
    assert clock.sleeps == [60] and api.early_requests == 0


def test_a_wait_past_the_ceiling_fails_at_once_naming_the_daily_quota(sandbox_factory, tmp_path, clock):
    api = sandbox_factory(contacts=50, daily_quota=1)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.returncode == 1
    assert [r.status for r in api.requests] == [200, 429]
    assert api.requests[1].query == {"limit": "50", "page": "2"}
    assert clock.sleeps == []
    assert run.errors[0]["failure_type"] == "transient_error"
    assert run.errors[0]["message"] == (
        "The Contacts API asked to wait 24.0 h before the next request (HTTP 429, Retry-After), longer than max_retry_wait_seconds (5 "
        "min). "
        "A wait that long usually means the account's daily quota (144,000 requests/day) is spent; the next sync can go on after it resets."
    )


def test_the_ceiling_is_the_users_to_raise(sandbox_factory, tmp_path, clock):
    api = sandbox_factory(contacts=50, requests_per_minute=1, window_seconds=3600)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, max_retry_wait_seconds=3600), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert [r.status for r in api.requests] == [200, 429, 200]
    assert clock.sleeps == [3600]


@pytest.mark.parametrize("verb", ["check", "read"])
def test_a_server_that_accepts_and_never_answers_fails_in_bounded_time_saying_so(sandbox_factory, tmp_path, clock, verb):
    clock.timeout_scale = 0.005  # the 60 s read timeout takes 0.3 s of real time; messages still say 60 s
    api = sandbox_factory(contacts=50, stall_after=1)
    run = run_connector("source-contacts", verb, tmp_path, source_config(api), catalog("contacts") if verb == "read" else None)
    if verb == "check":  # check answers from its one request: the first one (1 answer) stalls the second
        assert run.status == {"status": "SUCCEEDED"}
        run = run_connector("source-contacts", verb, tmp_path, source_config(api))
        assert run.status == {"status": "FAILED", "message": f"{api.url} did not answer within 60 s."}
        assert [r.status for r in api.requests] == [200, None]
        return
    assert run.returncode == 1
    # Three tries of the second request, 2 s and 4 s of backoff between them, then the failure.
    assert [(r.query["page"], r.status) for r in api.requests] == [("1", 200), ("2", None), ("2", None), ("2", None)]
    assert clock.sleeps == [2, 4]
    assert run.errors[0]["failure_type"] == "transient_error"
    assert run.errors[0]["message"] == f"{api.url} did not answer within 60 s. Gave up after 3 tries of GET /v1/contacts?limit=50&page=2."
    assert not any("rate limit" in line.lower() for line in run.logs + [error["message"] for error in run.errors])


def test_a_read_right_after_check_waits_what_the_server_asked_and_no_more(sandbox_factory, tmp_path, clock):
    """Airbyte runs `check` right before `read`, with the same key, after a failed attempt: the server's minute holds the check's
    request, which the read's own rate budget never saw. 15,000 contacts at 100 a page, the sandbox and the connector at 100/min."""
    api = sandbox_factory(contacts=15_000, requests_per_minute=100, window_seconds=60)
    config = source_config(api, page_size=100, requests_per_minute=100)
    start = clock.monotonic()  # virtual: it moves only by what the connectors slept
    assert run_connector("source-contacts", "check", tmp_path, config).status == {"status": "SUCCEEDED"}
    run = run_connector("source-contacts", "read", tmp_path, config, catalog("contacts"))
    elapsed = clock.monotonic() - start
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 15_000
    reads = len(list_requests(api)) - 1
    assert reads == 17 + 151  # the sentinel search, then 150 pages and the empty end
    # The read's 100th request met the full minute and was told to wait 60 s: one wait, until the server's minute
    # turned or the budget's own 61 s window let its first call go, whichever is later, and no pacing on top; the
    # other 68 requests went at once.
    assert api.throttled == 1 and api.early_requests == 0
    assert clock.sleeps == [61]
    # The floor the API's limit allows for 169 requests: 60 s. The budget's 61 s window adds 1 s on purpose.
    assert elapsed == 61
