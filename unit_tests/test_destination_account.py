"""The account index (SQLite, off the heap): matching, shared phones, and walking it while deleting."""

import logging

from destination_contacts.account import Account


def contact(n, phone=None, **fields):
    return {"id": f"c{n}", "name": f"Contact {n}", "phoneNumber": phone or f"+9715{n:08d}", "tags": [], **fields}


def test_a_shared_phone_belongs_to_the_earliest_contact_even_after_it_changes(caplog):
    pages = [[contact(1, "+971501234567"), contact(2, "0501234567"), contact(3)], [contact(2), contact(4, "+971 50 123 4567")]]
    account = Account(lambda: iter(pages), "AE")
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        account.load()
    assert "2 contacts share a phone number with an earlier contact" in caplog.text
    assert account.find(None, "+971501234567")["id"] == "c1"
    assert account.find("c2", None)["phoneNumber"] == "0501234567"  # the first occurrence of an id wins
    account.remember(contact(1, "+971501234567", stage="Lead"))  # an update keeps c1 first in scan order
    assert account.find(None, "+971501234567")["id"] == "c1"
    account.forget("c1")
    assert account.find(None, "+971501234567")["id"] == "c2"  # the next owner, not nobody


def test_remember_returns_a_copy_the_caller_may_change_set_tags_changes_only_tags_and_only_compared_fields_are_kept():
    account = Account(lambda: iter([]), None)
    kept = account.remember(contact(1, createdAt="2026-01-01T00:00:00Z", customFields={"n": 10**30}))
    assert kept == account.find("c1", None, load=False)  # what was stored ...
    kept["name"] = "changed by a caller"  # ... but not the stored contact itself
    account.set_tags("c1", ["a", "b"])
    assert account.find("c1", None, load=False) == {"id": "c1", "name": "Contact 1", "phoneNumber": "+971500000001", "tags": ["a", "b"],
                                        "customFields": {"n": 10**30}, "_e164": "+971500000001"}


def test_unseen_ids_walk_in_scan_order_while_they_are_deleted():
    pages = [[contact(n) for n in range(start, start + 500)] for start in range(0, 2500, 500)]
    account = Account(lambda: iter(pages), None)
    account.load()
    for n in range(0, 2500, 3):
        account.mark_seen(f"c{n}")
    assert account.count_unseen() == 2500 - 834
    walked = []
    for contact_id in account.unseen_ids():
        walked.append(contact_id)
        account.forget(contact_id)  # as overwrite's deletes do, in the lanes, while the walk goes on
    assert walked == [f"c{n}" for n in range(2500) if n % 3]
    assert account.count_unseen() == 0 and account.find("c0", None) is not None
