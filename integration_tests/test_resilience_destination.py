"""Issue 5 §2: the destination under 5 % 5xx, 1 % dropped connections (before the server acts, and after it wrote but
before it answered) and a rate limit it must wait out: the account ends equal to the input, no contact twice, exit 0,
and no request sent before a Retry-After expired."""

from integration_tests.connector import as_set, assert_no_leak, phone, record, state, write

EXISTING = 30  # contacts in the account before the sync; the input updates all of them
NEW = 60  # contacts the input creates
# s: a request arriving this soon after a 429 left before the connector could read it. Half the 1 s Retry-After: a
# loaded machine (CI, two cores) can hold a request that long between the lane and the server, and one the connector
# sent after reading the 429 arrives a whole second later.
IN_FLIGHT = 0.5


def contact(n, version):
    tags = [f"t{(n + k) % 7}" for k in range(n % 4)] + ([f"v{version}"] if n % 3 else [])
    return {
        "name": f"Contact {n} v{version}",
        "phoneNumber": phone(n),
        "stage": ("Lead", "Customer")[(n + version) % 2],
        "notes": f"note {n}/{version}",
        "tags": tags,
    }


def test_destination_under_faults_and_a_rate_limit_ends_equal_to_its_input(sandbox_factory, tmp_path):
    # A moving-window limit like the vendor's 100 requests/minute, scaled to 20 requests per 1 s window so the test
    # meets it within seconds (the fault stalls keep the connector below 100 per few seconds); the connector is
    # configured for far more, so it meets the server's 429s and must wait each Retry-After out.
    api = sandbox_factory(
        error_rate=0.05, drop_rate=0.01, drop_after_write_rate=0.01, requests_per_minute=20, window_seconds=1, fault_seed=5
    )
    api.add_contacts([{**contact(n, 0), "tags": contact(n, 0)["tags"] + ["stale"]} for n in range(EXISTING)])
    wanted = [contact(n, 1) for n in range(EXISTING + NEW)]
    messages = []
    for i, c in enumerate(wanted):
        messages += [record(c), state(i)] if i % 45 == 44 else [record(c)]
    run = write(api, tmp_path, [("contacts", "append_dedup")], *messages, requests_per_minute=10_000, tag_mode="sync")

    assert run.returncode == 0, run.stderr[-3000:]
    final = api.snapshot()
    assert as_set(final) == as_set(wanted)  # nothing lost, nothing changed that should not be, no contact twice
    assert len(final) == EXISTING + NEW
    assert [s["stream"]["stream_state"]["n"] for s in run.states] == [44, 89]
    faults = {
        "5xx": sum(1 for r in api.requests if r.status and r.status >= 500),
        "dropped": sum(1 for r in api.requests if r.status is None),
    }
    assert faults["5xx"] and faults["dropped"] and api.throttled, (faults, api.throttled)
    # The sandbox counts as early any request that arrives while a Retry-After runs. Lanes send in parallel, so a
    # request already on its way when the 429 was answered arrives early too: those come within moments of the 429.
    # Every request the connector sent after it could see the 429 waited it out (Retry-After is 1 s here).
    throttles = [r.received_at for r in api.requests if r.status == 429]
    in_flight = [r for r in api.requests if any(t < r.received_at <= t + IN_FLIGHT for t in throttles)]
    sent_after_seeing_it = [r for r in api.requests if any(t + IN_FLIGHT < r.received_at < t + 1 for t in throttles)]
    assert sent_after_seeing_it == []
    assert api.early_requests <= len(in_flight)
    assert_no_leak(run)
