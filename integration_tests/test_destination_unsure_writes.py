"""Writes answered 200 with a body that is not the API's answer (a proxy's maintenance page, an empty body, JSON cut
short: integration_tests/faults.py, broken_write), with the write done on the server or not. Such an answer says
nothing of the write: what is safe to repeat (PUT, the tag calls, DELETE) is sent again; a create is first looked up
by its phone number, and sent again only if it was not done. Each test ends on the exact account and the exact
requests; nothing is created twice, every change is applied once, and a STATE is never echoed past a record that is
neither written nor rejected."""

import pytest

from integration_tests.connector import A, B, C, account, counts, record, seed, state, summary, write, writes

PROXY_BODIES = ["html", "empty", "truncated"]
SEARCH_A = ("/v1/contacts", {"limit": "100", "page": "1", "searchText": A[4:]})  # A's national number


def requests_of(api):
    """Every request, as (method, path, query for a read, body for a write, status)."""
    return [(r.method, r.path, r.query if r.method == "GET" else r.body, r.status) for r in api.requests]


def broken(sandbox_factory, kind, unapplied, body="html", times=1, **options):
    return sandbox_factory(broken_write=body, broken_write_to=kind, broken_write_unapplied=unapplied, broken_write_times=times, **options)


def echoed(run):
    return [message["state"]["stream"]["stream_state"] for message in run.of_type("STATE")]


# --- create: looked up before it is sent again ----------------------------------------------------------------


@pytest.mark.parametrize("body", PROXY_BODIES)
def test_a_create_done_but_answered_by_a_proxy_is_found_by_its_phone_and_not_sent_again(sandbox_factory, tmp_path, body):
    api = broken(sandbox_factory, "create", unapplied=False, body=body, times=None)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": B})
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Ahmed", "phoneNumber": A, "stage": "Lead"}), state(1))
    assert run.returncode == 0, run.stderr
    [ahmed] = [c["id"] for c in api.snapshot() if c["id"] != zoe]
    assert account(api) == [
        {"id": zoe, "name": "Zoë", "phoneNumber": B, "tags": []},
        {"id": ahmed, "name": "Ahmed", "phoneNumber": A, "stage": "Lead", "tags": []},
    ]
    # The match: a page of the account, the search for A, the probe that searches work (B, found). Then the POST,
    # done but answered by the proxy, and the search that finds it.
    assert requests_of(api) == [
        ("GET", "/v1/contacts", {"limit": "1000", "page": "1"}, 200),
        ("GET", *SEARCH_A, 200),
        ("GET", "/v1/contacts", {"limit": "100", "page": "1", "searchText": B[4:]}, 200),
        ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": A, "stage": "Lead"}, 200),
        ("GET", *SEARCH_A, 200),
    ]
    assert summary(run) == counts(created=1)
    assert echoed(run) == [{"n": 1}]


@pytest.mark.parametrize("body", PROXY_BODIES)
def test_a_create_not_done_and_answered_by_a_proxy_is_looked_up_then_sent_again_once(sandbox_factory, tmp_path, body, clock):
    api = broken(sandbox_factory, "create", unapplied=True, body=body)
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Ahmed", "phoneNumber": A, "tags": ["VIP"]}), state(1))
    assert run.returncode == 0, run.stderr
    [ahmed] = [c["id"] for c in api.snapshot()]
    assert account(api) == [{"id": ahmed, "name": "Ahmed", "phoneNumber": A, "tags": ["VIP"]}]
    empty_walk = [("GET", "/v1/contacts", {"limit": "1000", "page": "1"}, 200)]
    assert requests_of(api) == empty_walk + [
        ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": A}, 200),
        ("GET", *SEARCH_A, 200),
        ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": A}, 200),
        ("POST", f"/v1/contacts/{ahmed}/tags/add", {"tags": ["VIP"]}, 200),
    ]
    assert summary(run) == counts(created=1, tags_added=1)
    assert echoed(run) == [{"n": 1}]
    assert any("and a look-up since found the write not done. Retrying POST /v1/contacts in 2 s" in line for line in run.logs)


@pytest.mark.parametrize("unapplied", [False, True], ids=["done", "not-done"])
def test_where_searches_do_not_find_numbers_a_create_is_settled_by_a_fresh_walk(sandbox_factory, tmp_path, unapplied):
    api = broken(sandbox_factory, "create", unapplied, search_phones=False)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": B})
    run = write(api, tmp_path, [("contacts", "append_dedup")], record({"name": "Ahmed", "phoneNumber": A}), state(1))
    assert run.returncode == 0, run.stderr
    [ahmed] = [c["id"] for c in api.snapshot() if c["id"] != zoe]
    assert account(api) == [
        {"id": zoe, "name": "Zoë", "phoneNumber": B, "tags": []},
        {"id": ahmed, "name": "Ahmed", "phoneNumber": A, "tags": []},
    ]
    page = {"limit": "1000", "page": "1"}
    listed = "1" if unapplied else "2"  # what the fresh walk's first page served, which its next page asks for
    after_post = [("GET", *SEARCH_A, 200), ("GET", "/v1/contacts", page, 200), ("GET", "/v1/contacts", {"limit": listed, "page": "2"}, 200)]
    post = ("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": A}, 200)
    # The match: the account's first page, the search for A, the probe (B: not found either), the rest of the walk.
    assert requests_of(api) == [
        ("GET", "/v1/contacts", page, 200),
        ("GET", *SEARCH_A, 200),
        ("GET", "/v1/contacts", {"limit": "100", "page": "1", "searchText": B[4:]}, 200),
        ("GET", "/v1/contacts", {"limit": "1", "page": "2"}, 200),
        post,
        *after_post,  # the search finds nothing, done or not; a fresh walk tells
        *([post] if unapplied else []),
    ]
    assert summary(run) == counts(created=1)
    assert echoed(run) == [{"n": 1}]


def test_a_create_never_answered_by_the_api_fails_the_sync_naming_it_and_no_state_passes_it(sandbox_factory, tmp_path):
    api = broken(sandbox_factory, "create", unapplied=True, times=None)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": B, "stage": "Lead"})
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup")],
        record({"name": "Zoë", "phoneNumber": B, "stage": "Customer"}),
        state(1),
        record({"name": "Ahmed", "phoneNumber": A}),
        state(2),
    )
    assert run.returncode != 0
    [error] = run.errors
    assert error["failure_type"] == "transient_error"
    assert error["message"] == (
        "The Contacts API answered HTTP 200 with a body that starts '<html><head><title>503 Service Temporarily Unavailable</title>"
        "</head><body><h1>Down for maintenance</h1></body></html>', not the contact with its id, and a look-up since found the "
        "write not done. Gave up after 6 tries of POST /v1/contacts."
    )
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": B, "stage": "Customer", "tags": []}]  # nothing created
    posts = [request for request in requests_of(api) if request[0] == "POST"]
    assert posts == [("POST", "/v1/contacts", {"name": "Ahmed", "phoneNumber": A}, 200)] * 6
    assert echoed(run) == [{"n": 1}]  # the first record was written; the second neither written nor rejected


# --- what is safe to repeat is sent again ---------------------------------------------------------------------


@pytest.mark.parametrize("unapplied", [False, True], ids=["done", "not-done"])
def test_an_update_answered_by_a_proxy_is_sent_again(sandbox_factory, tmp_path, unapplied):
    api = broken(sandbox_factory, "update", unapplied)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "stage": "Lead"})
    run = write(api, tmp_path, [("contacts", "update")], record({"id": zoe, "stage": "Customer"}), state(1))
    assert run.returncode == 0, run.stderr
    put = ("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Customer"})
    assert writes(api) == [put, put]
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": A, "stage": "Customer", "tags": []}]
    assert summary(run) == counts(updated=1)
    assert echoed(run) == [{"n": 1}]


@pytest.mark.parametrize("unapplied", [False, True], ids=["done", "not-done"])
@pytest.mark.parametrize("kind", ["add_tags", "remove_tags"])
def test_a_tag_change_answered_by_a_proxy_is_sent_again(sandbox_factory, tmp_path, kind, unapplied):
    api = broken(sandbox_factory, kind, unapplied, body="empty")
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "tags": ["a"]})
    stream, mode, tag, after = ("tags_in", "append", "b", ["a", "b"]) if kind == "add_tags" else ("tags_out", "soft_delete", "a", [])
    run = write(api, tmp_path, [(stream, mode, "contact_tags")], record({"contact_id": zoe, "tag": tag}, stream), state(1))
    assert run.returncode == 0, run.stderr
    call = ("POST", f"/v1/contacts/{zoe}/tags/{kind[:-5]}", {"tags": [tag]})
    assert writes(api) == [call, call]
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": A, "tags": after}]
    assert summary(run) == counts(updated=1, **{"tags_added" if kind == "add_tags" else "tags_removed": 1})
    assert echoed(run) == [{"n": 1}]


@pytest.mark.parametrize("unapplied", [False, True], ids=["done", "not-done"])
def test_a_delete_answered_by_a_proxy_is_sent_again_and_counted_once(sandbox_factory, tmp_path, unapplied):
    # The first DELETE is answered well (the first answer of a sync that is not the API's says base_url is wrong).
    api = broken(sandbox_factory, "delete", unapplied, body="truncated", broken_write_after=1)
    [zoe, ahmed, liam] = seed(
        api, {"name": "Zoë", "phoneNumber": A}, {"name": "Ahmed", "phoneNumber": B}, {"name": "Liam", "phoneNumber": C}
    )
    run = write(api, tmp_path, [("contacts", "soft_delete")], record({"id": liam}), record({"id": zoe}), state(1), max_workers=1)
    assert run.returncode == 0, run.stderr
    # Done: the second DELETE of Zoë meets a 404, the first one's doing. Not done: the second deletes her.
    assert [(r.method, r.path, r.status) for r in api.requests] == [
        ("DELETE", f"/v1/contacts/{liam}", 200),
        ("DELETE", f"/v1/contacts/{zoe}", 200),
        ("DELETE", f"/v1/contacts/{zoe}", 200 if unapplied else 404),
    ]
    assert [c["id"] for c in api.snapshot()] == [ahmed]
    assert summary(run) == counts(deleted=2)
    assert echoed(run) == [{"n": 1}]


def test_a_first_answer_that_is_not_the_apis_fails_the_sync_at_once_naming_base_url(sandbox_factory, tmp_path):
    api = broken(sandbox_factory, "delete", unapplied=True, body="html")
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A})
    run = write(api, tmp_path, [("contacts", "soft_delete")], state(1), record({"id": zoe}), state(2))
    assert run.returncode != 0
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith(f"{api.url} answered, but not like the Contacts API (HTTP 200 with a body that starts '<html>")
    assert error["message"].endswith(', not {"success": true}). Check base_url.')
    assert writes(api) == [("DELETE", f"/v1/contacts/{zoe}", None)]
    assert [c["id"] for c in api.snapshot()] == [zoe]
    assert echoed(run) == [{"n": 1}]


def test_an_update_never_answered_by_the_api_fails_the_sync_and_no_state_passes_it(sandbox_factory, tmp_path):
    api = broken(sandbox_factory, "update", unapplied=True, body="empty", times=None)
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": A, "stage": "Lead"})
    run = write(
        api,
        tmp_path,
        [("contacts", "update")],
        state(1),
        record({"id": zoe, "stage": "Customer"}),
        state(2),
    )
    assert run.returncode != 0
    [error] = run.errors
    assert error["message"] == (
        "The Contacts API answered HTTP 200 with an empty body, not the contact with its id. "
        f"Gave up after 6 tries of PUT /v1/contacts/{zoe}."
    )
    assert writes(api) == [("PUT", f"/v1/contacts/{zoe}", {"name": "Zoë", "phoneNumber": A, "stage": "Customer"})] * 6
    assert account(api) == [{"id": zoe, "name": "Zoë", "phoneNumber": A, "stage": "Lead", "tags": []}]
    assert echoed(run) == [{"n": 1}]
