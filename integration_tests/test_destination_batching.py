"""contact_tags rows gathered per contact between two state messages: one tags/add and one tags/remove call per
contact at most, the last row of a tag deciding, and a contacts record of the same contact never overtaken."""

from integration_tests.connector import A, B, counts, record, seed, state, summary, write, writes

STREAMS = [("contacts", "append_dedup"), ("tags_in", "append", "contact_tags"), ("tags_out", "soft_delete", "contact_tags")]


def add(tag, **contact):
    return record({**contact, "tag": tag}, "tags_in")


def remove(tag, **contact):
    return record({**contact, "tag": tag}, "tags_out")


def tags(api):
    return {c["id"]: c["tags"] for c in api.snapshot()}


def test_rows_of_one_contact_cost_one_add_and_one_remove_call(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["c", "d"]}, {"name": "Ahmed", "phoneNumber": B, "tags": []})
    run = write(
        api,
        tmp_path,
        STREAMS,
        add("a", contact_id=zoe),
        add("b", phoneNumber="+971 50 123 4567"),
        remove("c", contact_id=zoe),
        add("n", contact_id=ahmed),
        remove("d", contact_id=zoe),
        add("d", phoneNumber=A),  # the last row of a tag decides: d stays
        add("a", contact_id=zoe),  # twice: once
        remove("x", contact_id=zoe),  # has not got it
        add("m", contact_id=ahmed),
        max_workers=1,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["b", "a"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["c"]}),
        ("POST", f"/v1/contacts/{ahmed}/tags/add", {"tags": ["n", "m"]}),
    ]
    assert tags(api) == {zoe: ["d", "b", "a"], ahmed: ["n", "m"]}
    # Rows that changed something count as updated, superseded or idle ones as unchanged.
    assert summary(run) == counts(updated=5, unchanged=4, tags_added=4, tags_removed=1)


def test_a_state_closes_the_batch(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": []})
    run = write(
        api,
        tmp_path,
        STREAMS,
        add("a", contact_id=zoe),
        add("b", contact_id=zoe),
        state(1),
        add("c", contact_id=zoe),
        remove("a", contact_id=zoe),
        state(2),
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["a", "b"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["c"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["a"]}),
    ]
    assert tags(api) == {zoe: ["b", "c"]}
    assert len(run.states) == 2
    assert summary(run) == counts(updated=4, tags_added=3, tags_removed=1)


def test_a_contacts_record_between_rows_keeps_its_place(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=10)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["old"]})
    run = write(
        api,
        tmp_path,
        STREAMS,
        add("x", contact_id=zoe),
        record({"name": "Zoë", "phoneNumber": A, "tags": ["y"]}),  # sync: removes old and x
        add("z", phoneNumber=A),
        remove("y", contact_id=zoe),
        tag_mode="sync",
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["x"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["y"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["old", "x"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["z"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["y"]}),
    ]
    assert tags(api) == {zoe: ["z"]}
    assert summary(run) == counts(updated=4, tags_added=3, tags_removed=3)


def test_rows_for_a_contact_created_in_the_same_sync_wait_for_it(sandbox_factory, tmp_path):
    api = sandbox_factory(latency_ms=10)
    run = write(
        api,
        tmp_path,
        STREAMS,
        record({"name": "Zoë", "phoneNumber": A, "tags": ["a"]}),
        add("b", phoneNumber=A),
        add("c", phoneNumber="0501234567"),
        remove("a", phoneNumber=A),
        add("d", contact_id="not-yet-known"),
        default_region="AE",
        max_rejected_records=1,
    )
    assert run.returncode == 0, run.stderr
    [zoe] = [c["id"] for c in api.snapshot()]
    assert writes(api) == [
        ("POST", "/v1/contacts", {"name": "Zoë", "phoneNumber": A}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["a"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["b", "c"]}),
        ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["a"]}),
    ]
    assert tags(api) == {zoe: ["b", "c"]}
    assert summary(run) == counts(created=1, updated=3, tags_added=3, tags_removed=1, rejected=1)
    assert "rejected tags_in record 3 (input message 5): no contact has this contact_id or phoneNumber" in run.logs


def test_a_second_run_of_the_same_rows_sends_nothing(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a"]}, {"name": "Ahmed", "phoneNumber": B, "tags": ["a"]})
    rows = [add("b", contact_id=zoe), remove("a", contact_id=zoe), add("b", contact_id=ahmed), remove("a", phoneNumber=B)]
    first = write(api, tmp_path, STREAMS, *rows)
    assert first.returncode == 0, first.stderr
    assert sorted(writes(api)) == sorted(
        [
            ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["b"]}),
            ("POST", f"/v1/contacts/{zoe}/tags/remove", {"tags": ["a"]}),
            ("POST", f"/v1/contacts/{ahmed}/tags/add", {"tags": ["b"]}),
            ("POST", f"/v1/contacts/{ahmed}/tags/remove", {"tags": ["a"]}),
        ]
    )
    api.reset_requests()
    second = write(api, tmp_path, STREAMS, *rows)
    assert second.returncode == 0, second.stderr
    assert writes(api) == []
    assert tags(api) == {zoe: ["b"], ahmed: ["b"]}
    assert summary(second) == counts(unchanged=4)
