"""The match step (account.py): what is known, off the heap; and the requests it spends, rent or buy."""

import logging

import pytest

from destination_contacts.account import Account
from unit_tests.fakes import ListingApi


def contact(n, phone=None, **fields):
    return {"id": f"c{n}", "name": f"Contact {n}", "phoneNumber": phone or f"+9715{n:08d}", "tags": [], **fields}


def account_of(pages, region=None, **options):
    api = ListingApi(pages, **options)
    return Account(api, region), api


def big_account(pages=200):
    """20,000 contacts on pages of 100: the walk costs 201 requests."""
    return [[contact(page * 100 + n) for n in range(100)] for page in range(pages)]


def test_a_shared_phone_belongs_to_the_earliest_contact_even_after_it_changes(caplog):
    account, _ = account_of([[contact(1, "+971501234567"), contact(2, "0501234567"), contact(3)], [contact(4, "+971 50 123 4567")]], "AE")
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        account.walk_to_end()
    assert "2 contacts share a phone number with an earlier contact" in caplog.text
    assert account.find(None, "+971501234567")["id"] == "c1"
    account.remember(contact(1, "+971501234567", stage="Lead"))  # an update keeps c1 first in the order known
    assert account.find(None, "+971501234567")["id"] == "c1"
    account.forget("c1")
    assert account.find(None, "+971501234567")["id"] == "c2"  # the next owner, not nobody


def test_remember_returns_a_copy_the_caller_may_change_set_tags_changes_only_tags_and_only_compared_fields_are_kept():
    account, _ = account_of([])
    kept = account.remember(contact(1, createdAt="2026-01-01T00:00:00Z", customFields={"n": 10**30}))
    assert kept == account.find("c1", None)  # what was stored ...
    kept["name"] = "changed by a caller"  # ... but not the stored contact itself
    account.set_tags("c1", ["a", "b"])
    assert account.find("c1", None) == {
        "id": "c1",
        "name": "Contact 1",
        "phoneNumber": "+971500000001",
        "tags": ["a", "b"],
        "customFields": {"n": 10**30},
        "_e164": "+971500000001",
    }


def test_unseen_ids_walk_in_order_while_they_are_deleted():
    account, _ = account_of([[contact(n) for n in range(start, start + 500)] for start in range(0, 2500, 500)])
    account.walk_to_end()
    for n in range(0, 2500, 3):
        account.mark_seen(f"c{n}")
    assert account.count_unseen() == 2500 - 834
    walked = []
    for contact_id in account.unseen_ids():
        walked.append(contact_id)
        account.forget(contact_id)  # as a mirror sync's deletes do, in the lanes, while the walk goes on
    assert walked == [f"c{n}" for n in range(2500) if n % 3]
    assert account.count_unseen() == 0 and account.find("c0", None) is not None


# --- rent or buy ---------------------------------------------------------------------------------------------


def test_a_few_records_into_a_big_account_cost_a_look_up_and_a_page_each():
    account, api = account_of(big_account())
    wanted = ["c50", "c9000", "c150", "missing", "c19999"]
    found = [account.match(contact_id, None) for contact_id in wanted]
    assert [c and c["id"] for c in found] == ["c50", "c9000", "c150", None, "c19999"]
    # c50 is on page 1, read for it; c150 on page 2, read for c9000: no look-up for either. The others: a GET each,
    # and one more page each. The walk asks for 1,000 a page, then for the 100 this server serves.
    assert api.calls == [
        ("list", {"limit": 1000, "page": 1}),
        ("list", {"limit": 100, "page": 2}),
        ("get", "c9000"),
        ("list", {"limit": 100, "page": 3}),
        ("get", "missing"),
        ("list", {"limit": 100, "page": 4}),
        ("get", "c19999"),
    ]


def test_known_keys_and_remembered_misses_cost_nothing():
    account, api = account_of(big_account())
    account.match("c9000", None)
    account.match("missing", None)
    calls = len(api.calls)
    assert account.match("c9000", None)["id"] == "c9000" and account.match("missing", None) is None
    assert len(api.calls) == calls
    account.remember(contact(20001))  # created by this sync
    assert account.match("c20001", None)["id"] == "c20001" and len(api.calls) == calls


def test_once_the_walk_has_ended_every_record_is_matched_from_it():
    """Many records into a small account: the walk ends after about as many pages as look-ups, then costs nothing."""
    account, api = account_of(big_account(pages=3))  # 300 contacts: 4 requests to walk
    found = [account.match(contact_id, None) for contact_id in ["c299", "c5", "c150", "c7", "nope1", "nope2"]]
    assert [c and c["id"] for c in found] == ["c299", "c5", "c150", "c7", None, None]
    assert account.complete and [call for call in api.calls if call[0] == "get"] == [("get", "c299"), ("get", "nope1")]
    assert len([call for call in api.calls if call[0] == "list"]) == 4
    calls = len(api.calls)
    assert all(account.match(f"c{n}", None) for n in range(300)) and account.match("nope3", None) is None
    assert len(api.calls) == calls == 6


def test_a_phone_is_searched_by_its_national_number_and_confirmed_by_e164():
    pages = big_account()
    pages[160][3] = contact(16003, "+971509991235")
    pages[170][1] = {**contact(17001), "name": "Ask for 509991236"}  # the digits in a name, not a phone
    account, api = account_of(pages)
    assert account.match(None, "+971509991235")["id"] == "c16003"
    assert account.match(None, "+971509991236") is None
    # The first search found a number, so searchText finds phone numbers: the miss needs no probe.
    assert [call for call in api.calls if call[0] == "search"] == [("search", "509991235"), ("search", "509991236")]


def test_a_miss_before_any_search_found_a_number_is_checked_once_by_a_probe(caplog):
    account, api = account_of(big_account())
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert account.match(None, "+971509991236") is None
        assert account.match(None, "+971509991237") is None
    assert api.calls == [
        ("list", {"limit": 1000, "page": 1}),
        ("search", "509991236"),
        ("search", "500000000"),  # the probe: the first known contact's number, found
        ("list", {"limit": 100, "page": 2}),
        ("search", "509991237"),
    ]
    assert "does not find contacts by phone" not in caplog.text


def test_the_probe_reads_the_next_page_when_no_page_read_shows_a_number():
    pages = big_account()
    pages[0] = [{"id": f"c{n}", "name": f"Contact {n}", "tags": []} for n in range(100)]  # no phone numbers
    account, api = account_of(pages)
    assert account.match(None, "+971509991236") is None
    assert api.calls == [
        ("list", {"limit": 1000, "page": 1}),
        ("search", "509991236"),
        ("list", {"limit": 100, "page": 2}),
        ("search", "500000100"),
    ]


def test_a_server_whose_search_ignores_phone_numbers_gets_the_walk_and_a_log_line(caplog):
    account, api = account_of(big_account(pages=5), phone_search=False)
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert account.match(None, "+971500000321")["id"] == "c321"
        assert account.match(None, "+971500000499")["id"] == "c499"
    assert account.complete and account.pages == 6
    # The record's own search, then the probe, once; the second record is matched from the walk.
    assert [call for call in api.calls if call[0] == "search"] == [("search", "500000321"), ("search", "500000000")]
    assert caplog.text.count("searchText does not find contacts by phone number here") == 1


def test_a_record_with_a_stale_id_and_a_phone_reads_one_page():
    account, api = account_of(big_account())
    assert account.match("gone", "+971500009000")["id"] == "c9000"
    assert api.calls == [("list", {"limit": 1000, "page": 1}), ("get", "gone"), ("search", "500009000")]


def test_a_server_that_caps_the_page_size_costs_no_extra_page():
    """Pages of 20 where 100 were asked for: the first short page is not taken for the end of the account."""
    account, api = account_of([[contact(page * 20 + n) for n in range(20)] for page in range(1000)])
    assert account.match("c15000", None)["id"] == "c15000"
    assert api.calls == [("list", {"limit": 1000, "page": 1}), ("get", "c15000")]


def test_numbers_written_with_separators_are_searched_as_the_account_writes_them():
    pages = big_account()
    pages[0][3] = contact(3, "+971 50 111 2222")  # page 1 shows how this account writes numbers
    pages[150][7] = contact(15007, "+971 50 999 1234")  # no run of digits matches it
    account, api = account_of(pages)
    assert account.match(None, "+971509991234")["id"] == "c15007"
    assert api.calls == [("list", {"limit": 1000, "page": 1}), ("search", "509991234"), ("search", "+971 50 999 1234")]


def test_records_read_ahead_that_outnumber_the_walk_buy_it_at_once():
    account, api = account_of(big_account(pages=3))  # 4 requests to walk
    for n in range(10):
        account.expect(f"new{n}", None)  # none of them in the account: no page shows them
    assert account.match("new0", None) is None
    assert api.calls == [("list", {"limit": 1000 if page == 1 else 100, "page": page}) for page in (1, 2, 3, 4)] and account.complete
    assert not any(account.match(f"new{n}", None) for n in range(1, 10)) and len(api.calls) == 4


def test_pages_are_bought_up_to_one_per_contact_unknown_when_read_and_what_they_show_needs_no_look_up():
    account, api = account_of(big_account())
    account.expect("c20", None)
    account.expect(None, "+971500000120")
    account.expect("c9000", None)
    account.expect("c20", None)  # a second record of one contact: it will find it known
    assert account.match("c250", None)["id"] == "c250"  # not read ahead: one more
    # 4 pages for 4 contacts: pages 1 to 3 show c20, c120 and c250, which need no look-up.
    assert api.calls == [("list", {"limit": 1000 if page == 1 else 100, "page": page}) for page in (1, 2, 3, 4)]
    assert [account.match(*keys)["id"] for keys in (("c20", None), (None, "+971500000120"), ("c9000", None), ("c20", None))] == [
        "c20",
        "c120",
        "c9000",
        "c20",
    ]
    assert api.calls[4:] == [("get", "c9000")]


def test_records_already_known_or_absent_are_not_look_ups_to_come():
    account, api = account_of(big_account())
    account.match("c5", None)
    account.match("missing", None)
    account.expect("c5", None)
    account.expect("missing", None)
    account.match("c9000", None)
    assert api.calls[-2:] == [("list", {"limit": 100, "page": 3}), ("get", "c9000")]


@pytest.mark.parametrize("read_ahead", [False, True])
@pytest.mark.parametrize("pages", [0, 1, 3, 20])
@pytest.mark.parametrize("records", [1, 2, 5, 30])
def test_matching_costs_at_most_twice_the_cheaper_of_the_walk_and_the_look_ups(pages, records, read_ahead):
    """Records by id, the last contacts first (no page read before the last shows them) and every third one absent:
    the worst order for the walk; met one at a time, or all read ahead of the first match."""
    account, api = account_of(big_account(pages))
    walk = pages + 1  # the full pages, then an empty one
    wanted = [f"c{n}" if i % 3 else f"absent{n}" for i, n in enumerate(range(pages * 100 - 1, pages * 100 - 1 - records, -1))]
    for contact_id in wanted if read_ahead else ():
        account.expect(contact_id, None)
    for contact_id in wanted:
        account.match(contact_id, None)
    assert len(api.calls) <= 2 * min(walk, records)
    if read_ahead and records >= walk:
        assert len(api.calls) == walk  # the walk alone: bought at the first record


def test_a_mirror_sync_reads_the_whole_account_first():
    api = ListingApi(big_account(pages=3))
    account = Account(api, None, walk_first=True)
    assert account.match("c5", None)["id"] == "c5"
    assert account.complete and [call[0] for call in api.calls] == ["list"] * 4


def test_what_this_sync_wrote_wins_over_pages_read_after():
    stale = [[contact(1, name="Old")], [contact(2, name="Gone")], []]
    account, _ = account_of(stale)
    account.match("c1", None)  # page 1
    account.remember(contact(1, "+971501234569", name="New"))  # a PUT answered meanwhile
    account.forget("c2")  # a DELETE answered meanwhile
    account.walk_to_end()  # pages 2 and 3, read after
    assert account.find("c1", None)["name"] == "New" and account.find(None, "+971501234569")["id"] == "c1"
    assert account.find(None, "+971500000001") is None
    assert account.find("c2", None) is None and list(account.unseen_ids()) == ["c1"]
