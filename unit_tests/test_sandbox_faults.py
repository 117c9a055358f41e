"""The sandbox's switchable faults (integration_tests/faults.py), over real HTTP with requests: each does exactly what
its switch says, and nothing while it is off."""

import dataclasses
import json
import re
import signal
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from integration_tests.faults import BROKEN_BODIES, Faults
from integration_tests.sandbox import SandboxAPI, object_id

KEY = "sandbox-key"


def listed(http, api, **params):
    response = http.get(f"{api.url}/v1/contacts", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(contacts):
    return [contact.get("id", "absent") for contact in contacts]


def every_id(count):
    return [object_id(i) for i in range(1, count + 1)]


def test_every_switch_is_off_by_default():
    switches = {field.name: getattr(Faults(), field.name) for field in dataclasses.fields(Faults)}
    assert switches == {
        **dict.fromkeys(switches, None),
        **dict.fromkeys(("cap_after_offset", "clamp_page", "newest_first", "retry_after_date", "broken_write_unapplied"), False),
        "churn_deletes": 0,
        "churn_creates": 0,
        "churn_times": 1,
        "broken_body_after": 0,
        "broken_write_after": 0,
    }
    with pytest.raises(ValueError, match="broken_body must be one of html, message, data, null, empty, truncated"):
        Faults(broken_body="xml")
    with pytest.raises(ValueError, match="broken_write must be one of html"):
        Faults(broken_write="xml")
    with pytest.raises(ValueError, match="broken_write_to must be one of create, update, delete, add_tags, remove_tags"):
        Faults(broken_write_to="patch")


# --- pages that lie --------------------------------------------------------------------------------------------


def test_a_cap_applied_after_the_offset_skips_what_lies_between(http):
    with (
        SandboxAPI(contacts=100, max_limit=10, cap_after_offset=True) as capped_after,
        SandboxAPI(contacts=100, max_limit=10) as capped_before,
    ):
        assert ids(listed(http, capped_after, limit=50, page=2)) == every_id(100)[50:60]
        assert ids(listed(http, capped_before, limit=50, page=2)) == every_id(100)[10:20]
        assert ids(listed(http, capped_after, limit=10, page=2)) == every_id(100)[10:20]  # asking for the cap loses nothing


def test_a_limit_above_the_maximum_is_refused_with_400(http):
    with SandboxAPI(contacts=5, reject_limit_above=100) as api:
        refused = http.get(f"{api.url}/v1/contacts", params={"limit": 101})
        assert (refused.status_code, refused.json()) == (400, {"message": "limit must be between 1 and 100"})
        assert ids(listed(http, api, limit=100)) == every_id(5)


def test_dropped_contacts_make_pages_short_and_ids_can_be_null_missing_or_repeated(http):
    with SandboxAPI(contacts=12, drop_every=3) as api:
        assert ids(listed(http, api, limit=6, page=1)) == [object_id(i) for i in (1, 2, 4, 5)]
        assert ids(listed(http, api, limit=6, page=2)) == [object_id(i) for i in (7, 8, 10, 11)]
    with SandboxAPI(contacts=8, null_id_every=2) as api:
        page = listed(http, api, limit=8)
        assert ids(page) == [object_id(1), None, object_id(3), "absent", object_id(5), None, object_id(7), "absent"]
        assert [contact["phoneNumber"] for contact in page] == [contact["phoneNumber"] for contact in api.snapshot()]
        assert [contact["id"] for contact in api.snapshot()] == every_id(8)  # the stored contacts keep their ids
    with SandboxAPI(contacts=6, duplicate_id_every=3) as api:
        assert ids(listed(http, api, limit=6)) == [object_id(i) for i in (1, 2, 1, 4, 5, 1)]
        assert ids(listed(http, api, limit=3, page=2)) == [object_id(i) for i in (4, 5, 1)]  # also on later pages


def test_a_page_past_the_end_can_serve_the_last_page_again(http):
    with SandboxAPI(contacts=25, clamp_page=True) as api:
        assert ids(listed(http, api, limit=10, page=3)) == every_id(25)[20:]
        assert ids(listed(http, api, limit=10, page=9)) == every_id(25)[20:]
    with SandboxAPI(contacts=0, clamp_page=True) as api:
        assert listed(http, api, limit=10, page=2) == []


# --- a list that moves -----------------------------------------------------------------------------------------


def test_newest_first_puts_a_created_contact_on_page_one(http):
    with SandboxAPI(contacts=5, newest_first=True) as api:
        assert ids(listed(http, api, limit=10)) == every_id(5)[::-1]
        created = http.post(f"{api.url}/v1/contacts", json={"name": "New", "phoneNumber": "+971500000001"}).json()
        assert ids(listed(http, api, limit=2)) == [created["id"], object_id(5)]


def test_churn_deletes_from_the_front_and_creates_right_after_the_page_it_follows(http):
    with SandboxAPI(contacts=10, churn_after_page=1, churn_deletes=2, churn_creates=1, churn_times=1) as api:
        assert ids(listed(http, api, limit=4, page=1)) == every_id(10)[:4]
        # Two of the four just read are gone: page 2 starts two later than it would have.
        assert ids(listed(http, api, limit=4, page=2)) == every_id(10)[6:10]
        assert ids(listed(http, api, limit=4, page=3)) == [object_id(11)]
        assert api.snapshot()[-1] | {"id": "x", "createdAt": "t", "updatedAt": "t"} == {
            "id": "x",
            "name": "Created meanwhile 1",
            "phoneNumber": "+966500000001",
            "tags": [],
            "createdAt": "t",
            "updatedAt": "t",
        }
        listed(http, api, limit=4, page=1)
        assert len(api.snapshot()) == 9  # churn_times: once


# --- bodies that break -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BROKEN_BODIES))
def test_broken_bodies_replace_list_answers_after_the_good_ones_for_as_many_as_asked(http, kind):
    content_type, body = BROKEN_BODIES[kind]
    with SandboxAPI(contacts=3, broken_body=kind, broken_body_after=1, broken_body_times=2) as api:
        answers = [http.get(f"{api.url}/v1/contacts") for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200] * 4
        assert [answer.content for answer in answers[1:3]] == [body, body]
        assert answers[1].headers["Content-Type"] == content_type
        assert answers[0].json() == answers[3].json() == api.snapshot()
        assert http.get(f"{api.url}/v1/contacts/{object_id(1)}").json() == api.snapshot()[0]  # only list answers break


WRITE_CALLS = {  # kind: (method, path after /v1/contacts, body) for the contact object_id(1)
    "create": ("POST", "", {"name": "New", "phoneNumber": "+971509999999"}),
    "update": ("PUT", f"/{object_id(1)}", {"name": "Renamed", "phoneNumber": "+971500000001"}),
    "add_tags": ("POST", f"/{object_id(1)}/tags/add", {"tags": ["added"]}),
    "remove_tags": ("POST", f"/{object_id(1)}/tags/remove", {"tags": ["VIP"]}),
    "delete": ("DELETE", f"/{object_id(1)}", None),
}


def write_call(http, api, kind):
    method, path, body = WRITE_CALLS[kind]
    return http.request(method, f"{api.url}/v1/contacts{path}", json=body)


def untimed(contact):
    return {k: v for k, v in contact.items() if k not in ("createdAt", "updatedAt")}


def stored(api):
    return [untimed(contact) for contact in api.snapshot()]


@pytest.mark.parametrize("kind", sorted(WRITE_CALLS))
@pytest.mark.parametrize("unapplied", [False, True])
def test_a_broken_write_answer_comes_to_its_kind_of_write_after_it_is_done_or_instead(http, kind, unapplied):
    content_type, body = BROKEN_BODIES["html"]
    with (
        SandboxAPI(contacts=2, broken_write="html", broken_write_to=kind, broken_write_unapplied=unapplied) as api,
        SandboxAPI(contacts=2) as reference,
    ):
        api.contacts[object_id(1)]["tags"] = reference.contacts[object_id(1)]["tags"] = ["VIP"]
        others = [name for name in WRITE_CALLS if name not in (kind, "delete")]
        for other in others:  # other kinds of write are answered as ever
            assert untimed(write_call(http, api, other).json()) == untimed(write_call(http, reference, other).json())
        before = stored(reference)
        answer = write_call(http, api, kind)
        assert (answer.status_code, answer.headers["Content-Type"], answer.content) == (200, content_type, body)
        assert write_call(http, reference, kind).status_code == 200
        assert stored(api) == (before if unapplied else stored(reference))
        assert before != stored(reference)


def test_broken_write_answers_after_the_good_ones_for_as_many_as_asked(http):
    with SandboxAPI(contacts=2, broken_write="empty", broken_write_after=1, broken_write_times=2) as api:
        answers = [write_call(http, api, "add_tags") for _ in range(4)]
        assert [answer.content for answer in answers[1:3]] == [b"", b""]
        assert answers[0].json() == answers[3].json() == {"id": object_id(1), "tags": [*api.snapshot()[0]["tags"]]}
        assert http.get(f"{api.url}/v1/contacts").json() == api.snapshot()  # reads are not writes


def test_strings_cut_mid_emoji_go_out_as_a_lone_surrogate_escape(http):
    with SandboxAPI(cut_strings_at=5) as api:
        [stored] = api.add_contacts(
            [{"name": "Zoë 🌸 Ødegård", "phoneNumber": "+971500000001", "notes": "ok", "tags": ["café ☕", "🚀🚀🚀"]}]
        )
        raw = http.get(f"{api.url}/v1/contacts").content
        assert b'"name": "Zo\xc3\xab \\ud83c"' in raw and "🚀🚀\\ud83d".encode() in raw
        [served] = json.loads(raw)
        assert (served["name"], served["notes"], served["tags"]) == ("Zoë \ud83c", "ok", ["café ", "🚀🚀\ud83d"])
        assert api.snapshot() == [stored]


# --- waits and redirects ---------------------------------------------------------------------------------------


def test_retry_after_as_an_http_date_with_the_date_header_of_the_same_second(http):
    with SandboxAPI(contacts=1, requests_per_minute=1, retry_after_date=True, clock=lambda: 100.0) as api:
        assert http.get(f"{api.url}/v1/contacts").status_code == 200
        refused = http.get(f"{api.url}/v1/contacts")
        assert refused.status_code == 429 and re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", refused.headers["Retry-After"])
        waited = parsedate_to_datetime(refused.headers["Retry-After"]) - parsedate_to_datetime(refused.headers["Date"])
        assert waited.total_seconds() == 60
        assert len(refused.raw.headers.getlist("Date")) == 1


def test_a_spent_daily_quota_answers_429_until_the_day_ends(http):
    now = [1000.0]
    with SandboxAPI(contacts=1, daily_quota=2, clock=lambda: now[0]) as api:
        assert [http.get(f"{api.url}/v1/contacts").status_code for _ in range(2)] == [200, 200]
        now[0] += 3600
        refused = http.get(f"{api.url}/v1/contacts")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, str(86_400 - 3600))
        now[0] += 86_400 - 3600
        assert http.get(f"{api.url}/v1/contacts").status_code == 200
        assert [r.status for r in api.requests] == [200, 200, 429, 200]


def test_a_stall_accepts_and_never_answers_until_the_sandbox_stops(http):
    api = SandboxAPI(contacts=1, stall_after=1).start()
    try:
        assert http.get(f"{api.url}/v1/contacts", timeout=5).status_code == 200
        with pytest.raises(requests.ReadTimeout):
            http.get(f"{api.url}/v1/contacts", timeout=0.2)
        assert [request.status for request in api.requests] == [200, None]
    finally:
        api.stop()


def test_a_redirect_sends_every_request_elsewhere_with_its_path_and_query(http):
    with SandboxAPI(contacts=1, redirect_to="https://elsewhere.example") as api:
        answer = http.get(f"{api.url}/v1/contacts", params={"limit": 5, "page": 2}, allow_redirects=False)
        assert (answer.status_code, answer.headers["Location"]) == (307, "https://elsewhere.example/v1/contacts?limit=5&page=2")


def test_the_cli_takes_every_switch():
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "integration_tests.sandbox",
            "--port",
            "0",
            "--contacts",
            "6",
            "--api-key",
            KEY,
            "--newest-first",
            "--reject-limit-above",
            "4",
            "--drop-every",
            "2",
            "--broken-body",
            "null",
            "--broken-body-after",
            "1",
            "--broken-write",
            "empty",
            "--broken-write-to",
            "delete",
            "--broken-write-unapplied",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.fullmatch(r"Sandbox Contacts API on (\S+) \(key: sandbox-key\)\n", process.stdout.readline())[1]
        with requests.Session() as http:
            http.headers["x-api-key"] = KEY
            assert ids(http.get(f"{url}/v1/contacts", params={"limit": 4}).json()) == [object_id(i) for i in (6, 4)]
            assert http.get(f"{url}/v1/contacts", params={"limit": 5}).status_code == 400
            assert http.get(f"{url}/v1/contacts", params={"limit": 4}).content == b"null"
            assert http.delete(f"{url}/v1/contacts/{object_id(6)}").content == b""
            assert http.get(f"{url}/v1/contacts/{object_id(6)}").status_code == 200  # the proxy answered: not deleted
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
