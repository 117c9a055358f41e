"""overwrite for contacts: an upsert, plus (only with delete_absent_contacts) deleting the account's contacts that
no record named, and only after a complete input."""

import pytest

from integration_tests.connector import A, B, C, account, complete, counts, record, seed, state, summary, write, writes

D = "+971501234570"


def seeded(api):
    return seed(api, {"name": "Zoë", "phoneNumber": A}, {"name": "Ahmed", "phoneNumber": B}, {"name": "Liam", "phoneNumber": C})


def test_overwrite_upserts_and_deletes_the_contacts_absent_from_a_complete_sync(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed, liam] = seeded(api)
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite")],
        state(0),
        record({"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
        record({"name": "Dana", "phoneNumber": D}),
        complete(),
        state(1),
        delete_absent_contacts=True,
    )
    assert run.returncode == 0, run.stderr
    [dana] = [c["id"] for c in api.snapshot() if c["phoneNumber"] == D]
    writes_ = writes(api)
    assert sorted(writes_[:2], key=str) == sorted(
        [  # two contacts, two lanes: either order
            ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Lead"}),
            ("POST", "/v1/contacts", {"name": "Dana", "phoneNumber": D}),
        ],
        key=str,
    )
    assert sorted(writes_[2:]) == sorted([("DELETE", f"/v1/contacts/{ahmed}", None), ("DELETE", f"/v1/contacts/{liam}", None)])
    assert account(api) == [
        {"id": zoe, "name": "Zoë", "phoneNumber": A, "stage": "Lead", "tags": []},
        {"id": dana, "tags": [], "name": "Dana", "phoneNumber": D},
    ]
    assert [s["stream"]["stream_state"] for s in run.states] == [{"n": 0}, {"n": 1}]
    assert "delete_absent_contacts: deleting the 2 contacts no record of this sync named" in run.logs
    assert summary(run) == counts(created=1, updated=1, deleted=2)


def test_contacts_named_by_another_contacts_stream_are_kept(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed, liam] = seeded(api)
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite"), ("vip", "append_dedup", "contacts")],
        record({"name": "Zoë", "phoneNumber": A}),
        record({"name": "Ahmed", "phoneNumber": B}, "vip"),
        complete(),
        delete_absent_contacts=True,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [("DELETE", f"/v1/contacts/{liam}", None)]
    assert [c["id"] for c in api.snapshot()] == [zoe, ahmed]
    assert summary(run) == counts(unchanged=2, deleted=1)


def test_without_the_opt_in_overwrite_is_an_upsert_and_says_so(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed, liam] = seeded(api)
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite")],
        record({"name": "Zoë", "phoneNumber": A, "notes": "hi"}),
        record({"name": "Dana", "phoneNumber": D}),
        complete(),
    )
    assert run.returncode == 0, run.stderr
    assert sorted(writes(api), key=str) == sorted(
        [
            ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "notes": "hi"}),
            ("POST", "/v1/contacts", {"name": "Dana", "phoneNumber": D}),
        ],
        key=str,
    )
    assert [c["phoneNumber"] for c in account(api)] == [A, B, C, D]
    assert "stream contacts: overwrite → upsert contacts; contacts no record names are kept (delete_absent_contacts is off)" in run.logs
    assert summary(run) == counts(created=1, updated=1)


@pytest.mark.parametrize(
    "messages, options, reason, exit_code",
    [
        # No end-of-stream status: a source that died mid-read closes the input the same way.
        (
            [record({"name": "Zoë", "phoneNumber": A})],
            {},
            "no stream status COMPLETE for contacts, so the input may be partial (Airbyte sends it only to destinations with refreshes "
            "support)",
            0,
        ),
        (
            [record({"name": "Zoë", "phoneNumber": A}), state(1), record({"name": "Ahmed", "phoneNumber": B}), complete()],
            {},
            "a state message came between mirror records: a resumed attempt would see only part of the data",
            0,
        ),
        (
            [record({"name": "Zoë", "phoneNumber": A}), record({"name": "Ahmed"}), complete()],
            {"max_rejected_records": 1},
            "1 records of the mirror streams were rejected: the contacts they meant cannot be told apart",
            0,
        ),
        ([complete()], {}, "the mirror streams sent no record: an empty read never empties the account", 0),
        (
            [record({"name": "Zoë", "phoneNumber": A}), record({"name": "x", "phoneNumber": B}, "unknown"), complete()],
            {},
            "the sync fails: more records were rejected than max_rejected_records",
            1,
        ),
    ],
)
def test_no_delete_unless_the_input_was_whole(sandbox_factory, tmp_path, messages, options, reason, exit_code):
    api = sandbox_factory()
    seeded(api)
    run = write(api, tmp_path, [("contacts", "overwrite")], *messages, delete_absent_contacts=True, **options)
    assert run.returncode == exit_code, run.stderr
    assert not [w for w in writes(api) if w[0] == "DELETE"]
    assert len(account(api)) == 3
    assert f"delete_absent_contacts: no contact deleted, {reason}" in run.logs
    assert summary(run)["deleted"] == 0


def test_a_failed_sync_deletes_nothing(sandbox_factory, tmp_path):
    api = sandbox_factory()
    seeded(api)
    api.api_key = "rotated"  # every request now answers 401
    run = write(
        api, tmp_path, [("contacts", "overwrite")], record({"name": "Zoë", "phoneNumber": A}), complete(), delete_absent_contacts=True
    )
    assert run.returncode == 1 and [e["failure_type"] for e in run.errors] == ["config_error"]
    assert [(r.method, r.status) for r in api.requests] == [("GET", 401)]
    assert len(api.snapshot()) == 3


def test_dry_run_plans_the_deletes(sandbox_factory, tmp_path):
    api = sandbox_factory()
    [zoe, ahmed, liam] = seeded(api)
    before = api.snapshot()
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite")],
        record({"name": "Zoë", "phoneNumber": A}),
        complete(),
        delete_absent_contacts=True,
        dry_run=True,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == [] and api.snapshot() == before
    assert summary(run) == counts(unchanged=1, deleted=2, dry_run=True)
    assert any(
        '"action": "delete", "contact_id": "%s"' % ahmed in line and '"position": "absent from the sync"' in line for line in run.logs
    )
