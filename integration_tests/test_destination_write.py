"""destination-contacts write, run as the real CLI with records on stdin against the sandbox: exact requests, exact
final account state."""

import json
import queue
import threading

import pytest

from integration_tests.connector import (
    WALK,
    A,
    B,
    C,
    account,
    assert_no_leak,
    counts,
    reads,
    record,
    seed,
    start_write,
    state,
    stdin,
    summary,
    write,
    writes,
)

# --- create, upsert, unchanged ------------------------------------------------------------------------


def test_append_creates_with_tags_through_the_tag_endpoint_and_no_account_walk(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = write(
        api,
        tmp_path,
        [("contacts", "append")],
        record(
            {
                "name": "Zoë",
                "phoneNumber": "+971 50 123 4567",
                "stage": "Lead",
                "tags": ["VIP", "café"],
                "createdAt": "2025-01-01T00:00:00Z",
                "channel": "Whatsapp",
            }
        ),
        record({"name": "Ahmed", "phoneNumber": B}),
        max_workers=1,
    )  # one lane: the exact order across contacts
    assert run.returncode == 0, run.stderr
    [first, second] = [c["id"] for c in api.snapshot()]
    assert reads(api) == []  # append only creates: nothing to match, so no walk of the account
    assert writes(api) == [
        ("POST", "/v1/contacts", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
        ("POST", f"/v1/contacts/{first}/tags/add", {"tags": ["VIP", "café"]}),
        ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": B}),
    ]
    assert account(api) == [
        {"id": first, "tags": ["VIP", "café"], "name": "Zoë", "phoneNumber": A, "stage": "Lead"},
        {"id": second, "tags": [], "name": "Ahmed", "phoneNumber": B},
    ]
    assert summary(run) == counts(created=2, tags_added=2)
    assert any("not written" in line and "channel, createdAt" in line for line in run.logs)


def test_upsert_matches_by_id_then_by_phone_in_local_format(sandbox_factory, tmp_path):
    api = sandbox_factory()
    first, second = seed(api, {"name": "Zoë", "phoneNumber": A, "notes": "old"}, {"name": "Ahmed", "phoneNumber": B, "stage": "Lead"})
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        record({"id": first, "name": "Zoë", "phoneNumber": A, "notes": "new"}),
        record({"name": "Ahmed", "phoneNumber": "050 123 4568", "stage": "Customer"}),
        record({"name": "Liam", "phoneNumber": "0501234569"}),
        default_region="AE",
        max_workers=1,
    )
    assert run.returncode == 0, run.stderr
    third = api.snapshot()[2]["id"]
    assert reads(api) == WALK
    assert writes(api) == [
        ("PUT", f"/v1/contacts/{first}", {"name": "Zoë", "phoneNumber": A, "notes": "new"}),
        ("PUT", f"/v1/contacts/{second}", {"name": "Ahmed", "phoneNumber": B, "stage": "Customer"}),
        ("POST", "/v1/contacts", {"name": "Liam", "phoneNumber": C}),
    ]
    assert account(api) == [
        {"id": first, "name": "Zoë", "phoneNumber": A, "notes": "new", "tags": []},
        {"id": second, "name": "Ahmed", "phoneNumber": B, "stage": "Customer", "tags": []},
        {"id": third, "tags": [], "name": "Liam", "phoneNumber": C},
    ]
    assert summary(run) == counts(created=1, updated=2)


def test_unchanged_record_and_second_identical_run_send_no_write(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [existing] = seed(
        api, {"name": "Zoë", "phoneNumber": A, "stage": "Lead", "location": {"id": "loc1", "title": "Dubai Mall"}, "tags": ["VIP"]}
    )
    messages = [
        # Same contact in another spelling, location by id only, a tag it has: nothing to do.
        record(
            {
                "name": "Zoë",
                "phoneNumber": "+971-50-123-4567",
                "stage": "Lead",
                "location": {"id": "loc1"},
                "tags": ["VIP"],
                "updatedAt": "x",
            }
        ),
        record({"name": "Ahmed", "phoneNumber": B, "tags": ["new"], "customFields": {"score": 3}}),
    ]
    first = write(api, tmp_path, [("contacts", "append_dedup")], *messages)
    assert first.returncode == 0, first.stderr
    created = api.snapshot()[1]["id"]
    assert writes(api) == [
        ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": B, "customFields": {"score": 3}}),
        ("POST", f"/v1/contacts/{created}/tags/add", {"tags": ["new"]}),
    ]
    assert summary(first) == counts(created=1, unchanged=1, tags_added=1)
    before = api.snapshot()
    api.reset_requests()
    second = write(api, tmp_path, [("contacts", "append_dedup")], *messages)
    assert second.returncode == 0, second.stderr
    # The account's walk (a short first page, then the empty end) costs no more than looking the two records up.
    assert writes(api) == [] and reads(api) == WALK
    assert api.snapshot() == before
    assert summary(second) == counts(unchanged=2)
    assert existing == before[0]["id"]


# --- tags ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag_mode", ["add", "sync"])
def test_tags_change_only_through_the_tag_endpoints(sandbox_factory, tmp_path, tag_mode):
    api = sandbox_factory()
    [contact, untouched] = seed(
        api, {"name": "Zoë", "phoneNumber": A, "tags": ["a", "b", "c"]}, {"name": "Ahmed", "phoneNumber": B, "tags": ["a"]}
    )
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        record({"name": "Zoë", "phoneNumber": A, "notes": "hi", "tags": ["a", "d", "e", "d"]}),
        record({"name": "Ahmed", "phoneNumber": B}),  # no tags field: its tags are left alone even in sync mode
        tag_mode=tag_mode,
    )
    assert run.returncode == 0, run.stderr
    expected = [
        ("PUT", f"/v1/contacts/{contact}", {"name": "Zoë", "phoneNumber": A, "notes": "hi"}),
        ("POST", f"/v1/contacts/{contact}/tags/add", {"tags": ["d", "e"]}),
    ]
    if tag_mode == "sync":
        expected.append(("POST", f"/v1/contacts/{contact}/tags/remove", {"tags": ["b", "c"]}))
    assert writes(api) == expected
    tags = {c["id"]: c["tags"] for c in api.snapshot()}
    assert tags == {contact: ["a", "d", "e"] if tag_mode == "sync" else ["a", "b", "c", "d", "e"], untouched: ["a"]}
    assert summary(run) == counts(updated=1, unchanged=1, tags_added=2, tags_removed=2 if tag_mode == "sync" else 0)


def test_contact_tags_rows_add_and_remove_one_tag_each(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a"]}, {"name": "Ahmed", "phoneNumber": B, "tags": ["x", "y"]})
    run = write(
        api,
        tmp_path,
        [("tags_in", "append", "contact_tags"), ("tags_out", "soft_delete", "contact_tags")],
        record({"contact_id": zoe, "tag": "b"}, "tags_in"),
        record({"phoneNumber": "+971 50 123 4568", "tag": "z"}, "tags_in"),
        record({"contact_id": zoe, "tag": "a"}, "tags_in"),  # has it already
        record({"contact_id": ahmed, "tag": "x"}, "tags_out"),
        record({"contact_id": ahmed, "tag": "nope"}, "tags_out"),  # has not got it
        record({"contact_id": "unknown", "tag": "b"}, "tags_in"),
        max_rejected_records=1,
        max_workers=1,
    )
    assert run.returncode == 0, run.stderr
    assert reads(api) == WALK
    assert writes(api) == [
        ("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["b"]}),
        ("POST", f"/v1/contacts/{ahmed}/tags/add", {"tags": ["z"]}),
        ("POST", f"/v1/contacts/{ahmed}/tags/remove", {"tags": ["x"]}),
    ]
    assert {c["id"]: c["tags"] for c in api.snapshot()} == {zoe: ["a", "b"], ahmed: ["y", "z"]}
    assert summary(run) == counts(updated=3, unchanged=2, tags_added=2, tags_removed=1, rejected=1)
    assert "rejected tags_in record 4 (input message 6): no contact has this contact_id or phoneNumber" in run.logs


# --- update and soft_delete ---------------------------------------------------------------------------------


def test_update_changes_matched_contacts_and_rejects_the_rest(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "stage": "Lead"})
    run = write(
        api,
        tmp_path,
        [("contacts", "update")],
        record({"phoneNumber": A, "stage": "Customer"}),  # no name: update keeps the stored one
        record({"name": "Nobody", "phoneNumber": B, "stage": "Lead"}),
        max_rejected_records=1,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Customer"})]
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": A, "stage": "Customer", "tags": []}]
    assert summary(run) == counts(updated=1, rejected=1)
    assert (
        "rejected contacts record 2 (input message 2): no contact has this phoneNumber, and update only changes existing contacts"
        in run.logs
    )


def test_soft_delete_deletes_matched_contacts_and_ids_without_looking_them_up(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed, liam] = seed(
        api, {"name": "Zoë", "phoneNumber": A}, {"name": "Ahmed", "phoneNumber": B}, {"name": "Liam", "phoneNumber": C}
    )
    run = write(
        api,
        tmp_path,
        [("contacts", "soft_delete")],
        record({"id": zoe}),
        record({"id": "no-such-contact"}),
        record({"phoneNumber": "+971 50 123 4568"}),
        record({"phoneNumber": "+971509999999"}),
        max_workers=1,
    )
    assert run.returncode == 0, run.stderr
    # An id is deleted at once (a 404: nothing had it); a phone number is looked up first, with the account's pages.
    assert [(r.method, r.path, r.status) for r in api.requests if r.method == "DELETE"] == [
        ("DELETE", f"/v1/contacts/{zoe}", 200),
        ("DELETE", "/v1/contacts/no-such-contact", 404),
        ("DELETE", f"/v1/contacts/{ahmed}", 200),
    ]
    assert not any(r.method == "GET" and r.path != "/v1/contacts" for r in api.requests)
    assert [c["id"] for c in api.snapshot()] == [liam]
    assert summary(run) == counts(deleted=2, unchanged=2)


# --- no duplicates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["append", "append_dedup"])
def test_same_phone_twice_in_one_sync_makes_one_contact(sandbox_factory, tmp_path, mode):
    api = sandbox_factory()
    run = write(
        api,
        tmp_path,
        [("contacts", mode)],
        record({"name": "Zoë", "phoneNumber": A, "tags": ["a"]}),
        record({"name": "Zoë M", "phoneNumber": "00971501234567", "tags": ["b"]}),
        default_region="AE",
    )
    assert run.returncode == 0, run.stderr
    [contact] = account(api)
    cid = contact["id"]
    assert writes(api) == [
        ("POST", "/v1/contacts", {"name": "Zoë", "phoneNumber": A}),
        ("POST", f"/v1/contacts/{cid}/tags/add", {"tags": ["a"]}),
        ("PUT", f"/v1/contacts/{cid}", {"name": "Zoë M", "phoneNumber": A}),
        ("POST", f"/v1/contacts/{cid}/tags/add", {"tags": ["b"]}),
    ]
    assert contact == {"id": cid, "tags": ["a", "b"], "name": "Zoë M", "phoneNumber": A}
    assert summary(run) == counts(created=1, updated=1, tags_added=2)


def test_append_of_an_existing_phone_updates_it_after_the_409(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a"]})
    run = write(api, tmp_path, [("contacts", "append")], record({"name": "Zoë", "phoneNumber": A, "stage": "Lead", "tags": ["a", "b"]}))
    assert run.returncode == 0, run.stderr
    assert [(r.method, r.path, r.status) for r in api.requests] == [
        ("POST", "/v1/contacts", 409),
        ("GET", "/v1/contacts", 200),
        ("PUT", f"/v1/contacts/{zoe}", 200),
        ("POST", f"/v1/contacts/{zoe}/tags/add", 200),
    ]
    assert api.requests[1].query == {"limit": "100", "page": "1", "searchText": "501234567"}  # the national number
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": A, "tags": ["a", "b"], "stage": "Lead"}]
    assert summary(run) == counts(updated=1, tags_added=1)


def test_lost_create_response_retried_into_a_409_updates_the_created_contact(sandbox_factory, tmp_path):
    # fault_seed 190: request 2 (the POST) is stored but its answer is dropped; the next five requests are answered.
    api = sandbox_factory(drop_after_write_rate=0.5, fault_seed=190)
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Zoë", "phoneNumber": A, "tags": ["a"]}))
    assert run.returncode == 0, run.stderr
    [contact] = account(api)
    assert [(r.method, r.path, r.status) for r in api.requests] == [
        ("GET", "/v1/contacts", 200),  # the account walk: an empty account
        ("POST", "/v1/contacts", None),  # stored, answer lost
        ("POST", "/v1/contacts", 409),  # our retry of the dropped answer
        ("GET", "/v1/contacts", 200),  # searchText=phone finds it
        ("POST", f"/v1/contacts/{contact['id']}/tags/add", 200),
    ]
    assert contact == {"id": contact["id"], "tags": ["a"], "name": "Zoë", "phoneNumber": A}
    assert summary(run) == counts(updated=1, tags_added=1)


# --- checkpoints -----------------------------------------------------------------------------------------


def test_states_are_echoed_in_order(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = write(
        api,
        tmp_path,
        [("contacts", "append")],
        state(0),
        record({"name": "Zoë", "phoneNumber": A}),
        state(1),
        record({"name": "x"}),
        state(2),
        state(3),
        max_rejected_records=1,
    )
    assert run.returncode == 0, run.stderr
    assert [s["stream"]["stream_state"] for s in run.states] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]


def test_a_state_comes_out_only_after_the_records_before_it_are_written(sandbox_factory, tmp_path):
    """Feeds stdin a message at a time and watches stdout: each state must come back after its records reached the API,
    and before the records after it were even sent."""
    api = sandbox_factory()
    process = start_write(api, tmp_path, [("contacts", "append")])
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        for batch, phones in enumerate([[A, B], [C]]):
            process.stdin.write(stdin(*[record({"name": "n", "phoneNumber": p}) for p in phones], state(batch)))
            process.stdin.flush()
            echoed = next_state(lines)
            assert echoed["stream"]["stream_state"] == {"n": batch}
            assert sorted(body["phoneNumber"] for _, _, body in writes(api)) == [A, B, C][: 2 + batch]
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def next_state(lines, timeout=30):
    while True:
        message = json.loads(lines.get(timeout=timeout))
        if message["type"] == "STATE":
            return message["state"]


# --- bad records -------------------------------------------------------------------------------------------


def test_bad_records_are_rejected_with_reason_and_position_and_good_ones_written(sandbox_factory, tmp_path):
    api = sandbox_factory()
    rejected_file = tmp_path / "rejected.jsonl"
    bad = [
        {"phoneNumber": A},
        {"name": "No phone"},
        {"name": "Short phone", "phoneNumber": "+971 12"},
        {"name": "Letters", "phoneNumber": "call me"},
        {"name": "Bad tags", "phoneNumber": B, "tags": ["ok", 3]},
        {"name": 5, "phoneNumber": B},
        {"name": "Bad stage", "phoneNumber": B, "stage": ["Lead"]},
        {"name": "Local", "phoneNumber": "0501234567"},
    ]
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        record({"name": "Good", "phoneNumber": A}),
        *[record(data) for data in bad],
        record({"name": "Other", "phoneNumber": B}, stream="leads"),
        '{"type": "RECORD", "record": {"stream": "contacts", "data": ["not", "an", "object"], "emitted_at": 1}}',
        "not json",
        state(1),
        record({"name": "Also good", "phoneNumber": C}),
        rejected_records_path=str(rejected_file),
        max_rejected_records=5,
    )
    assert run.returncode == 1
    [error] = run.errors
    assert error["failure_type"] == "system_error"
    assert "11 records were rejected, more than max_rejected_records (5)" in error["message"]
    assert [body["name"] for _, _, body in writes(api)] == ["Good", "Also good"]
    assert [c["name"] for c in account(api)] == ["Good", "Also good"]
    assert len(run.states) == 1
    assert summary(run) == counts(created=2, rejected=11)
    lines = [json.loads(line) for line in rejected_file.read_text().splitlines()]
    assert [(line["stream"], line["record"], line["message"], line["reason"]) for line in lines] == [
        ("contacts", 2, 2, "name missing: append_dedup may create the contact, and the API requires both"),
        ("contacts", 3, 3, "phoneNumber missing: append_dedup may create the contact, and the API requires both"),
        ("contacts", 4, 4, "phoneNumber has the wrong number of digits for its country"),
        ("contacts", 5, 5, "phoneNumber is not a phone number (not a number)"),
        ("contacts", 6, 6, "tags must be an array of non-empty strings"),
        ("contacts", 7, 7, "name must be a string, not a number"),
        ("contacts", 8, 8, "stage must be a string, not an array"),
        ("contacts", 9, 9, "phoneNumber has no +country code and default_region is not set"),
        ("leads", 1, 10, "stream 'leads' is not in the configured catalog"),
        ("contacts", 10, 11, "record data must be an object"),
        (None, None, 12, "input line is not JSON"),
    ]
    assert lines[0]["data"] == {"phoneNumber": A}
    assert (
        "rejected contacts record 2 (input message 2): name missing: append_dedup may create the contact, and the API requires both"
        in run.logs
    )
    # Reasons never quote personal values.
    assert not any("0501234567" in line for line in run.logs)


def test_rejections_within_the_limit_do_not_fail_the_sync(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = write(
        api, tmp_path, [("contacts", "append")], record({"name": "Good", "phoneNumber": A}), record({"name": "Bad"}), max_rejected_records=1
    )
    assert run.returncode == 0 and run.errors == []
    assert summary(run) == counts(created=1, rejected=1)


@pytest.mark.parametrize(
    "messages",
    [
        [record({"name": "Zoë", "phoneNumber": "0501234567"}), record({"name": "Ahmed", "phoneNumber": "050 123 4568"})],
        [record({"name": "Zoë", "phoneNumber": A}, stream="people")],
    ],
)
def test_every_record_rejected_for_one_config_reason_is_a_config_error(sandbox_factory, tmp_path, messages):
    api = sandbox_factory()
    run = write(api, tmp_path, [("contacts", "append")], *messages)
    assert run.returncode == 1
    assert [error["failure_type"] for error in run.errors] == ["config_error"]
    assert api.requests == []


def test_unsupported_sync_mode_is_a_config_error_before_any_request(sandbox_factory, tmp_path):
    api = sandbox_factory()
    run = write(api, tmp_path, [("contact_tags", "update")], record({"contact_id": "c1", "tag": "a"}, "contact_tags"))
    assert run.returncode == 1
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert (
        error["message"] == "stream 'contact_tags': destination sync mode 'update' cannot write contact_tags; "
        "use one of append, append_dedup, overwrite, soft_delete."
    )
    assert api.requests == []


def test_contact_tags_in_overwrite_mode_add_tags_and_remove_none(sandbox_factory, tmp_path):
    """A full refresh of tag rows ("Overwrite" in Airbyte) adds each row's tag; tags go only through soft_delete rows."""
    api = sandbox_factory()
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["old"]})
    run = write(api, tmp_path, [("contact_tags", "overwrite")], record({"contact_id": zoe, "tag": "new"}, "contact_tags"))
    assert run.returncode == 0, run.stderr
    assert writes(api) == [("POST", f"/v1/contacts/{zoe}/tags/add", {"tags": ["new"]})]
    assert account(api)[0]["tags"] == ["old", "new"]
    assert "stream contact_tags: overwrite → add_tag contact_tags" in run.logs


# --- dry run and auth -----------------------------------------------------------------------------------------


def test_dry_run_reads_and_plans_but_writes_nothing(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a", "old"]}, {"name": "Ahmed", "phoneNumber": B})
    before = api.snapshot()
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup"), ("gone", "soft_delete", "contacts")],
        record({"name": "Zoë", "phoneNumber": A, "stage": "Lead", "tags": ["a", "b"]}),
        record({"name": "Liam", "phoneNumber": C, "tags": ["x"]}),
        record({"name": "Liam", "phoneNumber": C, "notes": "again"}),
        record({"phoneNumber": B}, stream="gone"),
        state(1),
        dry_run=True,
        tag_mode="sync",
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [] and reads(api) == WALK
    assert api.snapshot() == before
    assert len(run.states) == 1
    assert summary(run) == counts(created=1, updated=2, deleted=1, tags_added=2, tags_removed=1, dry_run=True)
    [sample] = [json.loads(line)["planned_changes_sample"] for line in run.logs if "planned_changes_sample" in line]
    assert sample == [
        {
            "position": "contacts record 1 (input message 1)",
            "action": "update",
            "contact_id": zoe,
            "fields": ["stage"],
            "add_tags": ["b"],
            "remove_tags": ["old"],
        },
        {
            "position": "contacts record 2 (input message 2)",
            "action": "create",
            "contact_id": None,
            "fields": ["name", "phoneNumber"],
            "add_tags": ["x"],
        },
        {"position": "contacts record 3 (input message 3)", "action": "update", "contact_id": "dry-run-new-1", "fields": ["notes"]},
        {"position": "gone record 1 (input message 4)", "action": "delete", "contact_id": ahmed},
    ]


def test_rejected_key_fails_at_once_as_a_config_error(sandbox_factory, tmp_path):
    api = sandbox_factory(echo_headers_in_errors=True)
    run = write(
        api,
        tmp_path,
        [("contacts", "append")],
        record({"name": "Zoë", "phoneNumber": A}),
        record({"name": "Ahmed", "phoneNumber": B}),
        max_workers=1,
        api_key="not-the-key",
    )
    assert run.returncode == 1
    [error] = run.errors
    assert error["failure_type"] == "config_error" and "rejected the API key (HTTP 401" in error["message"]
    assert len(api.requests) == 1 and api.snapshot() == []
    assert_no_leak(run, "not-the-key")
