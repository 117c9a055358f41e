"""destination-contacts write with several lanes (max_workers): the real CLI against a sandbox with latency.
Exact requests per contact, exact final state, and overlap as the sandbox counts it: the most requests it held at once."""

import json
from collections import Counter

from integration_tests.connector import A, B, C, account, counts, phone, reads, record, seed, state, summary, write, writes

LATENCY_MS = 50


def by_phone(api):
    """The account keyed by phone, without ids: two runs create ids in a different order."""
    return {c["phoneNumber"]: {k: v for k, v in c.items() if k != "id"} for c in account(api)}


def per_contact(api):
    """Each contact's write requests in the order the sandbox got them, ids replaced by the contact's phone."""
    phones = {c["id"]: c["phoneNumber"] for c in api.snapshot()}
    sequences = {}
    for method, path, body in writes(api):
        parts = path.split("/")
        if len(parts) > 3:
            contact = phones[parts[3]]
            request = (method, "/".join(["{id}", *parts[4:]]), body)
        else:
            contact = body["phoneNumber"]
            request = (method, "", body)
        sequences.setdefault(contact, []).append(request)
    return sequences


def mixed_input(existing):
    """24 new contacts with tags, an update of 8 seeded ones, and tag rows for the seeded ones."""
    messages = [record({"name": f"New {n}", "phoneNumber": phone(n), "tags": ["new", f"t{n % 3}"]}) for n in range(24)]
    messages += [
        record({"id": contact_id, "name": f"Old {n}", "phoneNumber": phone(100 + n), "stage": "Customer"})
        for n, contact_id in enumerate(existing)
    ]
    messages += [record({"phoneNumber": phone(100 + n), "tag": "vip"}, "tags") for n in range(8)]
    return messages


def test_four_lanes_overlap_requests_and_end_in_the_same_state_as_one(sandbox_factory, tmp_path):
    runs = {}
    for workers in (1, 4):
        api = sandbox_factory(latency_ms=LATENCY_MS)
        existing = seed(api, *({"name": f"Old {n}", "phoneNumber": phone(100 + n), "stage": "Lead", "tags": ["old"]} for n in range(8)))
        run = write(
            api,
            tmp_path,
            [("contacts", "append_dedup"), ("tags", "append", "contact_tags")],
            *mixed_input(existing),
            state(1),
            max_workers=workers,
        )
        assert run.returncode == 0, run.stderr
        assert summary(run) == counts(created=24, updated=16, tags_added=56)
        assert [s["stream"]["stream_state"] for s in run.states] == [{"n": 1}]
        runs[workers] = api
    one, four = runs[1], runs[4]
    # The same requests, each contact's in the same order; the same account.
    assert per_contact(four) == per_contact(one)
    assert (
        Counter(r.method for r in four.requests) == Counter(r.method for r in one.requests) == {"GET": 2, "POST": 24 + 24 + 8, "PUT": 8}
    )  # GET: the account walk, its one page and the empty end
    assert by_phone(four) == by_phone(one)
    assert by_phone(four)[phone(0)] == {"name": "New 0", "phoneNumber": phone(0), "tags": ["new", "t0"]}
    assert by_phone(four)[phone(100)] == {"name": "Old 0", "phoneNumber": phone(100), "stage": "Customer", "tags": ["old", "vip"]}
    # One lane waits for each answer; four keep several requests in flight (each answer takes 50 ms), never more than four.
    assert one.most_in_flight == 1
    assert 3 <= four.most_in_flight <= 4


def test_changes_to_one_contact_stay_in_order_across_lanes(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=20)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["old"]})
    others = [record({"name": f"Other {n}", "phoneNumber": phone(n), "notes": "x"}) for n in range(12)]
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup"), ("tags", "append", "contact_tags")],
        record({"name": "Liam", "phoneNumber": C, "tags": ["a"]}),  # created in this sync...
        *others[:4],
        record({"phoneNumber": "+971 50 123 4569", "tag": "b"}, "tags"),  # ...then tagged by phone
        record({"name": "Liam L", "phoneNumber": C}),  # ...and updated by phone
        record({"id": zoe, "name": "Zoë", "phoneNumber": A, "stage": "Lead"}),  # by id
        *others[4:8],
        record({"contact_id": zoe, "tag": "x"}, "tags"),  # by id, after the update
        record({"name": "Zoë M", "phoneNumber": "+971-50-123-4567", "tags": ["old", "y"]}),  # by phone: same contact
        *others[8:],
        tag_mode="sync",
    )
    assert run.returncode == 0, run.stderr
    sequences = per_contact(api)
    assert sequences[C] == [
        ("POST", "", {"name": "Liam", "phoneNumber": C}),
        ("POST", "{id}/tags/add", {"tags": ["a"]}),
        ("POST", "{id}/tags/add", {"tags": ["b"]}),  # the tag row goes before the record after it
        ("PUT", "{id}", {"name": "Liam L", "phoneNumber": C}),
    ]
    assert sequences[A] == [
        ("PUT", "{id}", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
        ("POST", "{id}/tags/add", {"tags": ["x"]}),
        ("PUT", "{id}", {"name": "Zoë M", "phoneNumber": A}),
        ("POST", "{id}/tags/add", {"tags": ["y"]}),
        ("POST", "{id}/tags/remove", {"tags": ["x"]}),
    ]
    assert all(sequences[phone(n)] == [("POST", "", {"name": f"Other {n}", "phoneNumber": phone(n), "notes": "x"})] for n in range(12))
    assert len(writes(api)) == 4 + 5 + 12
    final = by_phone(api)
    assert final[C] == {"name": "Liam L", "phoneNumber": C, "tags": ["a", "b"]}
    assert final[A] == {"name": "Zoë M", "phoneNumber": A, "stage": "Lead", "tags": ["old", "y"]}
    assert [c["id"] for c in api.snapshot()][0] == zoe and len(final) == 14
    assert summary(run) == counts(created=13, updated=5, tags_added=4, tags_removed=1)


def test_the_same_new_phone_in_many_records_makes_one_contact(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=20)
    spellings = [A, "+971 50 123 4567", "00971501234567", "050 123 4567"]
    messages = []
    for n in range(8):
        messages.append(record({"name": f"Zoë {n}", "phoneNumber": spellings[n % 4], "tags": [f"t{n}"]}))
        messages.append(record({"name": f"Other {n}", "phoneNumber": phone(n)}))
    run = write(api, tmp_path, [("contacts", "append")], *messages, default_region="AE")
    assert run.returncode == 0, run.stderr
    sequence = per_contact(api)[A]
    assert sequence[:2] == [("POST", "", {"name": "Zoë 0", "phoneNumber": A}), ("POST", "{id}/tags/add", {"tags": ["t0"]})]
    assert sequence[2:] == [
        request
        for n in range(1, 8)
        for request in (("PUT", "{id}", {"name": f"Zoë {n}", "phoneNumber": A}), ("POST", "{id}/tags/add", {"tags": [f"t{n}"]}))
    ]
    assert by_phone(api)[A] == {"name": "Zoë 7", "phoneNumber": A, "tags": [f"t{n}" for n in range(8)]}
    assert len(api.snapshot()) == 9
    assert summary(run) == counts(created=9, updated=7, tags_added=8)


def test_rejections_are_reported_in_input_order_while_lanes_run(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=20)
    [gone] = seed(api, {"name": "Gone", "phoneNumber": B})
    api.contacts.pop(gone)  # in no walk of the account: the update below meets no contact
    rejected_file = tmp_path / "rejected.jsonl"
    messages = []
    for n in range(6):
        messages.append(record({"name": f"Good {n}", "phoneNumber": phone(n)}))
        messages.append(record({"name": f"Bad {n}"}))
    messages.insert(3, record({"contact_id": "nobody", "tag": "a"}, "tags"))  # rejected in a lane, at the end of the input
    messages.insert(
        7, record({"id": gone, "phoneNumber": B, "stage": "Customer"}, "changes")
    )  # an unknown id: waits for the creates in flight, then rejected in a lane
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup"), ("tags", "append", "contact_tags"), ("changes", "update", "contacts")],
        *messages,
        rejected_records_path=str(rejected_file),
        max_rejected_records=10,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in rejected_file.read_text().splitlines()]
    assert [(line["stream"], line["message"]) for line in lines] == [
        ("contacts", 2),
        ("tags", 4),
        ("contacts", 5),
        ("contacts", 7),
        ("changes", 8),
        ("contacts", 10),
        ("contacts", 12),
        ("contacts", 14),
    ]
    warnings = [line for line in run.logs if line.startswith("rejected")]
    assert warnings[1] == "rejected tags record 1 (input message 4): no contact has this contact_id or phoneNumber"
    assert (
        warnings[4]
        == "rejected changes record 1 (input message 8): no contact has this id or phoneNumber, and update only changes existing contacts"
    )
    assert [w.split(" (input message ")[1].split(")")[0] for w in warnings] == ["2", "4", "5", "7", "8", "10", "12", "14"]
    assert sorted(c["name"] for c in account(api)) == [f"Good {n}" for n in range(6)]
    assert sorted(writes(api), key=str) == [
        ("POST", "/v1/contacts", {"name": f"Good {n}", "phoneNumber": phone(n)}) for n in range(6)
    ]  # none for `gone`
    assert summary(run) == counts(created=6, rejected=8)


def test_a_rejected_key_stops_every_lane(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=20)
    messages = [record({"name": f"N {n}", "phoneNumber": phone(n)}) for n in range(40)]
    run = write(api, tmp_path, [("contacts", "append")], *messages, state(1), max_workers=4, api_key="not-the-key")
    assert run.returncode == 1
    [error] = run.errors
    assert error["failure_type"] == "config_error" and "rejected the API key (HTTP 401" in error["message"]
    # Only the requests already in flight when the first 401 came back: one per lane at most.
    assert 1 <= len(api.requests) <= 4 and {r.status for r in api.requests} == {401}
    assert api.snapshot() == [] and run.states == []
    assert summary(run) == counts()


def test_max_workers_below_one_is_a_config_error(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = write(api, tmp_path, [("contacts", "append")], record({"name": "Zoë", "phoneNumber": A}), max_workers=0)
    assert run.returncode == 1
    assert [error["failure_type"] for error in run.errors] == ["config_error"]
    assert api.requests == [] and reads(api) == []
