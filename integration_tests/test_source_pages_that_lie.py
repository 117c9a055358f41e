"""Issue 12 §2 and §6: pages that lie, and the fewest requests by default. The real CLI against a sandbox whose pages
come out short mid-list, whose cap applies before or after the offset, that refuses a large limit, or lists contacts
with repeated, null or missing ids: nothing is lost that the server serves, nothing crashes, and the warning counts
what the server did."""

import json

import pytest

from integration_tests.connector import (
    as_emitted,
    gaps,
    ids,
    list_requests,
    requests_of,
    run_connector,
    source_config,
)
from integration_tests.connector import (
    source_catalog as catalog,
)


def test_pages_short_mid_list_do_not_end_the_walk_and_what_they_lacked_is_counted(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=1000, drop_every=300)  # contacts 300, 600 and 900 cannot be serialised
    listed = [contact["id"] for contact in api.snapshot()]
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert ids(run.records["contacts"]) == [contact_id for position, contact_id in enumerate(listed, 1) if position % 300]
    # Pages 3, 6 and 9 hold 99: each is followed by the next page, and the walk ends on the empty page 11.
    assert list_requests(api) == requests_of([1, 2, 4, 8, 16, 12, 10, 11] + list(range(1, 12)), 100)
    assert run.warnings == [
        "Contacts read with gaps: 3 left out of pages before the end of the list (the API served fewer than asked, "
        "most likely contacts it could not serialise): they are missing."
    ]
    assert run.gaps == gaps(not_served=3)


@pytest.mark.parametrize("cap_after_offset", [False, True], ids=["cap before the offset", "cap after the offset"])
def test_a_silent_cap_loses_nothing_whether_applied_before_or_after_the_offset(sandbox_factory, tmp_path, cap_after_offset):
    api = sandbox_factory(contacts=1050, max_limit=100, cap_after_offset=cap_after_offset)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    # 1,000 asked for once; every later request asks for the 100 served, so page n starts at (n - 1) × 100 either way.
    assert list_requests(api) == requests_of([1, 2, 4, 8, 16, 12, 10, 11] + list(range(1, 13)), 100, first_limit=1000)
    assert run.warnings == []


def test_a_refused_large_limit_gets_the_maximum_the_server_names_and_a_set_page_size_wins(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300, reject_limit_above=250)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    assert [(r.query["limit"], r.query["page"], r.status) for r in api.requests] == [
        ("1000", "1", 400),
        ("250", "1", 200),
        ("250", "2", 200),  # the search: page 2 holds 50, the last
        ("250", "1", 200),
        ("250", "2", 200),
        ("250", "3", 200),
    ]  # the walk: 250 + 50, and the empty end
    api.reset_requests()
    chosen = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=120), catalog("contacts"))
    assert chosen.returncode == 0 and len(chosen.records["contacts"]) == 300
    assert {r.query["limit"] for r in api.requests} == {"120"}


def test_a_page_size_the_server_refuses_fails_with_its_message_and_one_request(sandbox_factory, tmp_path):
    api = sandbox_factory(contacts=300, reject_limit_above=250)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=500), catalog("contacts"))
    assert run.returncode == 1
    assert run.errors[0]["message"] == "The Contacts API answered HTTP 400: limit must be between 1 and 250"
    assert list_requests(api) == [("1", "500")]


def test_repeated_null_and_missing_ids_are_delivered_as_listed_and_counted_in_one_warning(sandbox_factory, tmp_path):
    # Contacts 150 and 300 carry the id of contact 1; 70 and 210 have "id": null, 140 and 280 no id at all.
    api = sandbox_factory(contacts=300, duplicate_id_every=150, null_id_every=70)
    stored = api.snapshot()
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts", "contact_tags"))
    assert run.returncode == 0, run.stderr
    expected = [c["id"] for c in stored]
    expected[149] = expected[299] = stored[0]["id"]
    expected[69] = expected[139] = expected[209] = expected[279] = None
    assert ids(run.records["contacts"]) == expected
    assert [record["phoneNumber"] for record in run.records["contacts"]] == [c["phoneNumber"] for c in stored]
    tag_rows = [(row.get("contact_id"), row["tag"]) for row in run.records["contact_tags"]]
    assert tag_rows == [(contact_id, tag) for contact_id, c in zip(expected, stored) for tag in c.get("tags") or []]
    assert run.warnings == [
        "Contacts read with gaps: 2 listed with an id listed before (delivered again); 4 listed without an id (delivered as listed, "
        "except to deduplicated streams: see their warning)."
    ]
    assert run.gaps == gaps(duplicate_ids=2, without_id=4)


# --- §6: the fewest requests by default -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cap, search, walk",
    [
        (100, [1, 2, 4, 8, 16, 32, 24, 28, 26, 25], 26),  # 25 full pages: ceil(2,500 / 100) + 1
        (250, [1, 2, 4, 8, 16, 12, 10, 11], 11),
        (1000, [1, 2, 4, 3], 4),  # 1,000, 1,000, 500: the short page 3 is the last one
    ],
)
def test_a_sync_costs_one_request_per_largest_page_plus_the_end_plus_the_sentinel_search(sandbox_factory, tmp_path, cap, search, walk):
    api = sandbox_factory(contacts=2500, max_limit=cap)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert len(run.records["contacts"]) == 2500
    assert list_requests(api) == requests_of(search + list(range(1, walk + 1)), cap, first_limit=1000)
    assert walk == -(-2500 // cap) + 1


def test_the_spec_has_no_default_page_size(tmp_path):
    [spec] = run_connector("source-contacts", "spec", tmp_path).of_type("SPEC")
    page_size = spec["spec"]["connectionSpecification"]["properties"]["page_size"]
    assert "default" not in page_size and (page_size["minimum"], page_size["maximum"]) == (1, 1000)
    assert json.dumps(page_size).count("largest page") == 1


def test_gaps_a_second_pass_reads_again_are_counted_once(sandbox_factory, tmp_path):
    # Positions 300, 600 and 900 cannot be serialised, before and after two contacts go mid-walk: both passes read the
    # same three gaps.
    api = sandbox_factory(contacts=1000, drop_every=300, churn_after_page=3, churn_deletes=2)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert run.gaps == gaps(not_served=3, second_pass_delivered=2, list_moved=1)
