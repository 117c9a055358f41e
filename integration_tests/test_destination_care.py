"""Issue 12 §7: the same care on the destination's reads and writes. Its account walk is the source's list walk: the
largest page by default, adapted to what the server serves, so a cap applied after the offset or a refused large
limit loses no contact a mirror sync must know. A phone number with an extension is never shortened. (A PUT answered
404 because the contact was deleted after the walk found it: test_destination_recovery.py.)"""

import pytest

from integration_tests.connector import account, complete, counts, reads, record, summary, write, writes


@pytest.mark.parametrize(
    "server, walk",
    [
        ({"max_limit": 50, "cap_after_offset": True}, [("1", "1000"), ("2", "50"), ("3", "50"), ("4", "50")]),
        ({"reject_limit_above": 100}, [("1", "1000"), ("1", "100"), ("2", "100"), ("3", "100")]),
    ],
)
def test_a_mirror_sync_knows_every_contact_of_an_account_whose_server_caps_or_refuses_the_page_size(
    sandbox_factory, tmp_path, server, walk
):
    api = sandbox_factory(contacts=150, **server)
    listed = api.snapshot()
    kept = listed[:2]
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite")],
        *[record({"id": c["id"], "name": c["name"], "phoneNumber": c["phoneNumber"]}) for c in kept],
        complete(),
        delete_absent_contacts=True,
    )
    assert run.returncode == 0, run.stderr
    assert [(query["page"], query["limit"]) for path, query in reads(api)] == walk
    # Contacts 51 to 100 sit where a walk at a fixed 100 a page would have skipped them on the first server.
    assert sorted(writes(api)) == sorted(("DELETE", f"/v1/contacts/{c['id']}", None) for c in listed[2:])
    assert [c["id"] for c in api.snapshot()] == [c["id"] for c in kept]
    assert summary(run) == counts(unchanged=2, deleted=148)


@pytest.mark.parametrize("phone", ["+971 50 123 4567 ext. 7", "+971501234567 x7", "tel:+971-50-123-4567;ext=7"])
def test_a_phone_number_with_an_extension_is_rejected_naming_phone_number_and_nothing_is_written(sandbox_factory, tmp_path, phone):
    api = sandbox_factory()
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Zoë", "phoneNumber": phone}), max_rejected_records=1)
    assert run.returncode == 0, run.stderr
    assert api.requests == [] and account(api) == []
    assert (
        "rejected contacts record 1 (input message 1): phoneNumber has an extension (ext., x, ;ext=): the API stores numbers in E.164, "
        "which cannot hold one" in run.logs
    )
    assert summary(run) == counts(rejected=1)


def test_names_cut_mid_emoji_in_the_account_do_not_stop_a_sync(sandbox_factory, tmp_path):
    api = sandbox_factory(cut_strings_at=5)
    [stored] = api.add_contacts([{"name": "Zoë 🌸 Ødegård", "phoneNumber": "+971501234567", "tags": []}])
    run = write(
        api, tmp_path, [("contacts", "append_dedup")], record({"name": "Zoë 🌸 Ødegård", "phoneNumber": "+971501234567", "stage": "Lead"})
    )
    assert run.returncode == 0, run.stderr
    # The account listed "Zoë \ud83c": read as "Zoë \ufffd", it differs from the record, which is written whole.
    assert writes(api) == [
        ("PUT", f"/v1/contacts/{stored['id']}", {"name": "Zoë 🌸 Ødegård", "phoneNumber": "+971501234567", "stage": "Lead"})
    ]
    assert summary(run) == counts(updated=1)
