"""Issue 5 §2: the destination under 5 % 5xx, 1 % dropped connections (before the server acts, and after it wrote but
before it answered) and a rate limit it must wait out: the account ends equal to the input, no contact twice, exit 0,
and no request sent before a Retry-After expired."""

import json

from integration_tests.connector import API_KEY, run_connector

EXISTING = 30  # contacts in the account before the sync; the input updates all of them
NEW = 60  # contacts the input creates
IN_FLIGHT = 0.05  # s: a request arriving this soon after a 429 left before the connector could read it


def phone(n):
    return f"+97150{n:07d}"


def contact(n, version):
    tags = [f"t{(n + k) % 7}" for k in range(n % 4)] + ([f"v{version}"] if n % 3 else [])
    return {"name": f"Contact {n} v{version}", "phoneNumber": phone(n), "stage": ("Lead", "Customer")[(n + version) % 2],
            "notes": f"note {n}/{version}", "tags": tags}


def as_set(contacts):
    """The account as a comparable set: every writable field, and the tags as a set."""
    return sorted(json.dumps({**{k: v for k, v in c.items() if k not in ("id", "createdAt", "updatedAt", "tags")}, "tags": sorted(c.get("tags") or [])},
                             sort_keys=True, ensure_ascii=False) for c in contacts)


def record(data):
    return json.dumps({"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, "data": data}}) + "\n"


def state(n):
    return json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "contacts"}, "stream_state": {"n": n}}}}) + "\n"


def test_destination_under_faults_and_a_rate_limit_ends_equal_to_its_input(sandbox_factory, tmp_path):
    # A moving-window limit like the vendor's 100 requests/minute, scaled to 20 requests per 1 s window so the test
    # meets it within seconds (the fault stalls keep the connector below 100 per few seconds); the connector is
    # configured for far more, so it meets the server's 429s and must wait each Retry-After out.
    api = sandbox_factory(error_rate=0.05, drop_rate=0.01, drop_after_write_rate=0.01, requests_per_minute=20, window_seconds=1, fault_seed=5)
    api.add_contacts([{**contact(n, 0), "tags": contact(n, 0)["tags"] + ["stale"]} for n in range(EXISTING)])
    wanted = [contact(n, 1) for n in range(EXISTING + NEW)]
    stdin = "".join(record(c) + (state(i) if i % 45 == 44 else "") for i, c in enumerate(wanted))
    config = {"api_key": API_KEY, "base_url": api.url, "requests_per_minute": 10_000, "tag_mode": "sync"}
    catalog = {"streams": [{"stream": {"name": "contacts", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                            "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup"}]}
    run = run_connector("destination-contacts", "write", tmp_path, config, catalog, stdin=stdin)

    assert run.returncode == 0, run.stderr[-3000:]
    final = api.snapshot()
    assert as_set(final) == as_set(wanted)  # nothing lost, nothing changed that should not be
    assert len({c["phoneNumber"] for c in final}) == len(final) == EXISTING + NEW  # no duplicate contact
    assert [s["stream"]["stream_state"]["n"] for s in run.states] == [44, 89]
    faults = {"5xx": sum(1 for r in api.requests if r.status and r.status >= 500),
              "dropped": sum(1 for r in api.requests if r.status is None)}
    assert faults["5xx"] and faults["dropped"] and api.throttled, (faults, api.throttled)
    # The sandbox counts as early any request that arrives while a Retry-After runs. Lanes send in parallel, so a
    # request already on its way when the 429 was answered arrives early too: those come within milliseconds of the
    # 429. Every request the connector sent after it could see the 429 waited it out (Retry-After is 1 s here).
    throttles = [r.received_at for r in api.requests if r.status == 429]
    in_flight = [r for r in api.requests if any(t < r.received_at <= t + IN_FLIGHT for t in throttles)]
    sent_after_seeing_it = [r for r in api.requests if any(t + IN_FLIGHT < r.received_at < t + 1 for t in throttles)]
    assert sent_after_seeing_it == []
    assert api.early_requests <= len(in_flight)
    assert API_KEY not in run.stdout + run.stderr
