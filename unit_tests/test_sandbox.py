"""Fast tests of the sandbox Contacts API (integration_tests/sandbox.py), over real HTTP with requests."""

import random
import re
import signal
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest
import requests

from integration_tests.connector import VirtualClock
from integration_tests.sandbox import LOCATIONS, NAME_POOL, TAG_POOL, SandboxAPI, generate_contacts, object_id

KEY = "sandbox-key"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OLD = "2020-01-01T00:00:00.000Z"


def ids_of(response):
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()]


def contact(n, **fields):
    return {"name": f"Person {n}", "phoneNumber": f"+97150000{n:04d}", **fields}


# --- listing -----------------------------------------------------------------------------------


def test_pages_are_exact_one_based_slices_in_creation_order(http):
    with SandboxAPI(contacts=45, seed=3) as api:
        url = f"{api.url}/v1/contacts"
        ids = [object_id(i) for i in range(1, 46)]
        assert [c["id"] for c in api.snapshot()] == ids
        assert ids_of(http.get(url, params={"limit": 20, "page": 1})) == ids[:20]
        assert ids_of(http.get(url, params={"limit": 20, "page": 2})) == ids[20:40]
        assert ids_of(http.get(url, params={"limit": 20, "page": 3})) == ids[40:]
        assert ids_of(http.get(url, params={"limit": 20, "page": 4})) == []
        assert ids_of(http.get(url, params={"limit": 20, "page": 99})) == []
        assert ids_of(http.get(url)) == ids[:20]  # page 1, limit 20 by default
        assert ids_of(http.get(url, params={"page": 2})) == ids[20:40]
        assert ids_of(http.get(url, params={"limit": 7, "page": 3})) == ids[14:21]
        assert http.get(url, params={"limit": 45}).json() == api.snapshot()


def test_max_limit_caps_silently(http):
    with SandboxAPI(contacts=35, max_limit=10, default_limit=20) as api:
        url = f"{api.url}/v1/contacts"
        ids = [c["id"] for c in api.snapshot()]
        first = http.get(url, params={"limit": 50})
        assert ids_of(first) == ids[:10]
        assert set(first.headers) == {"Server", "Date", "Content-Type", "Content-Length"}
        assert ids_of(http.get(url, params={"limit": 50, "page": 2})) == ids[10:20]
        assert ids_of(http.get(url)) == ids[:10]  # the default limit is capped too
        assert ids_of(http.get(url, params={"limit": 4, "page": 2})) == ids[4:8]
        assert ids_of(http.get(url, params={"limit": 1000, "page": 4})) == ids[30:]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"page": 0}, "page must be a positive integer"),
        ({"page": -1}, "page must be a positive integer"),
        ({"page": "abc"}, "page must be a positive integer"),
        ({"page": "1.5"}, "page must be a positive integer"),
        ({"limit": 0}, "limit must be a positive integer"),
        ({"limit": "ten"}, "limit must be a positive integer"),
    ],
)
def test_bad_paging_parameters_are_400(http, params, message):
    with SandboxAPI(contacts=3) as api:
        response = http.get(f"{api.url}/v1/contacts", params=params)
        assert (response.status_code, response.json()) == (400, {"message": message})


def test_filters(http):
    dubai, marina = LOCATIONS[0], LOCATIONS[1]
    with SandboxAPI() as api:
        api.add_contacts(
            [
                {
                    "id": "a",
                    "name": "José Müller",
                    "phoneNumber": "+971500000001",
                    "tags": ["VIP", "café"],
                    "location": dubai,
                    "channel": "Whatsapp",
                },
                {
                    "id": "b",
                    "name": "Zoë Ødegård",
                    "phoneNumber": "+971500000002",
                    "tags": ["black friday"],
                    "location": marina,
                    "channel": "Instagram",
                },
                {"id": "c", "name": "李雷", "phoneNumber": "+971500000003", "tags": []},
                {
                    "id": "d",
                    "name": "JOSÉ ALVES",
                    "phoneNumber": "+971500000004",
                    "tags": ["VIP"],
                    "location": dubai,
                    "channel": "Messenger",
                },
                {"id": "e", "name": "Ahmed Khan", "phoneNumber": "+447700900123", "tags": None, "location": None},
            ]
        )

        def listed(**params):
            return ids_of(http.get(f"{api.url}/v1/contacts", params=params))

        assert listed() == ["a", "b", "c", "d", "e"]
        assert listed(tags="VIP") == ["a", "d"]
        assert listed(tags="café,black friday") == ["a", "b"]
        assert listed(tags=" black friday , nope") == ["b"]
        assert listed(tags="nope") == []
        assert listed(locationId=dubai["id"]) == ["a", "d"]
        assert listed(channel="Instagram") == ["b"]
        assert listed(channel="instagram") == []
        assert listed(searchText="josé") == ["a", "d"]
        assert listed(searchText="ØDEG") == ["b"]
        assert listed(searchText="4477") == ["e"]
        assert listed(searchText="李") == ["c"]
        assert listed(tags="VIP", channel="Messenger") == ["d"]
        assert listed(tags="VIP", limit=1, page=2) == ["d"]
        assert listed(tags="VIP", limit=1, page=3) == []


def test_search_text_without_phone_search_matches_names_only(http):
    with SandboxAPI(search_phones=False) as api:
        api.add_contacts(
            [
                {"id": "a", "name": "Room 4477", "phoneNumber": "+971500000001"},
                {"id": "b", "name": "Ahmed Khan", "phoneNumber": "+447700900123"},
            ]
        )
        assert ids_of(http.get(f"{api.url}/v1/contacts", params={"searchText": "4477"})) == ["a"]
        assert ids_of(http.get(f"{api.url}/v1/contacts", params={"searchText": "0900123"})) == []


def test_paging_through_20k_contacts_returns_each_once_in_order(http):
    with SandboxAPI(contacts=20_000, seed=2) as api:
        seen, page = [], 1
        while batch := ids_of(http.get(f"{api.url}/v1/contacts", params={"limit": 100, "page": page})):
            seen += batch
            page += 1
        assert page == 201
        assert seen == list(api.contacts)


def test_ignore_page_serves_page_one(http):
    with SandboxAPI(contacts=30, ignore_page=True) as api:
        ids = list(api.contacts)
        for page in (1, 2, 5):
            assert ids_of(http.get(f"{api.url}/v1/contacts", params={"page": page})) == ids[:20]
        assert http.get(f"{api.url}/v1/contacts", params={"page": 0}).status_code == 400


# --- auth, CRUD, tags -----------------------------------------------------------------------------


def test_wrong_or_missing_key_is_401(http):
    with SandboxAPI(contacts=2) as api:
        missing = requests.get(f"{api.url}/v1/contacts")
        wrong = requests.get(f"{api.url}/v1/contacts/{object_id(1)}", headers={"x-api-key": "nope"})
        right = http.get(f"{api.url}/v1/contacts")
        assert (missing.status_code, missing.json()) == (401, {"message": "Invalid API key"})
        assert (wrong.status_code, wrong.json()) == (401, {"message": "Invalid API key"})
        assert right.status_code == 200
        assert [r.status for r in api.requests] == [401, 401, 200]


def test_create_get_update_delete(http):
    with SandboxAPI() as api:
        url = f"{api.url}/v1/contacts"
        created = http.post(url, json={"name": "Zoë", "phoneNumber": "+971 50 123 4567", "email": "z@x.io", "id": "mine", "createdAt": OLD})
        assert created.status_code == 200
        zoe = created.json()
        assert zoe["id"] == object_id(1) == "66000000a1b2c3d4e5000001"
        assert ISO.match(zoe["createdAt"]) and zoe["updatedAt"] == zoe["createdAt"]
        assert zoe == {
            "id": object_id(1),
            "tags": [],
            "name": "Zoë",
            "phoneNumber": "+971 50 123 4567",
            "email": "z@x.io",
            "createdAt": zoe["createdAt"],
            "updatedAt": zoe["createdAt"],
        }
        assert http.get(f"{url}/{zoe['id']}").json() == zoe

        duplicate = http.post(url, json={"name": "Other", "phoneNumber": "+971501234567"})
        assert (duplicate.status_code, duplicate.json()) == (409, {"message": "Contact with this phone number already exists"})
        ali = http.post(url, json={"name": "Ali", "phoneNumber": "+971509999999", "tags": ["VIP"]}).json()
        assert (ali["id"], ali["tags"]) == (object_id(2), ["VIP"])
        assert http.put(f"{url}/{ali['id']}", json={"name": "Ali", "phoneNumber": "971-50-123-4567"}).status_code == 409

        updated = http.put(
            f"{url}/{zoe['id']}", json={"name": "Zoë Ø", "phoneNumber": "+971501234567", "stage": "Lead", "id": "x", "createdAt": OLD}
        ).json()
        assert updated == {**zoe, "name": "Zoë Ø", "phoneNumber": "+971501234567", "stage": "Lead", "updatedAt": updated["updatedAt"]}
        assert updated["updatedAt"] >= zoe["updatedAt"]
        assert [c["id"] for c in http.get(url).json()] == [zoe["id"], ali["id"]]

        assert http.delete(f"{url}/{zoe['id']}").json() == {"success": True}
        for response in (
            http.get(f"{url}/{zoe['id']}"),
            http.delete(f"{url}/{zoe['id']}"),
            http.put(f"{url}/{zoe['id']}", json={"name": "A", "phoneNumber": "+1"}),
        ):
            assert (response.status_code, response.json()) == (404, {"message": "Contact not found"})
        assert [c["id"] for c in http.get(url).json()] == [ali["id"]]
        again = http.post(url, json={"name": "Zoë", "phoneNumber": "+971501234567"})  # the phone is free again
        assert (again.status_code, again.json()["id"]) == (200, object_id(3))


def test_update_bumps_updated_at_and_merges():
    with SandboxAPI() as api, requests.Session() as http:
        http.headers["x-api-key"] = KEY
        api.add_contacts([contact(1, id="c1", createdAt=OLD, updatedAt=OLD, notes="keep me")])
        response = http.put(f"{api.url}/v1/contacts/c1", json=contact(1, name="Renamed"))
        body = response.json()
        assert body["name"] == "Renamed" and body["notes"] == "keep me" and body["createdAt"] == OLD
        assert body["updatedAt"] != OLD and ISO.match(body["updatedAt"])
        assert api.contacts["c1"] == body


@pytest.mark.parametrize(
    "method, body, message",
    [
        ("post", {"phoneNumber": "+1"}, "name is required and must be a non-empty string"),
        ("post", {"name": "A", "phoneNumber": ""}, "phoneNumber is required and must be a non-empty string"),
        ("post", {"name": "A", "phoneNumber": 971}, "phoneNumber is required and must be a non-empty string"),
        ("post", {"name": " ", "phoneNumber": "+1"}, "name is required and must be a non-empty string"),
        ("post", {"name": "A", "phoneNumber": "+1", "tags": "VIP"}, "tags must be an array of strings"),
        ("post", ["not", "an", "object"], "Request body must be a JSON object"),
        ("put", {"name": "A"}, "phoneNumber is required and must be a non-empty string"),
    ],
)
def test_invalid_bodies_are_400(http, method, body, message):
    with SandboxAPI(contacts=1) as api:
        url = f"{api.url}/v1/contacts" + (f"/{object_id(1)}" if method == "put" else "")
        response = getattr(http, method)(url, json=body)
        assert (response.status_code, response.json()) == (400, {"message": message})


def test_malformed_json_is_400(http):
    with SandboxAPI(contacts=1) as api:
        for method, path in (("POST", ""), ("PUT", f"/{object_id(1)}"), ("POST", f"/{object_id(1)}/tags/add")):
            response = http.request(
                method, f"{api.url}/v1/contacts{path}", data=b'{"name": "A",', headers={"Content-Type": "application/json"}
            )
            assert (response.status_code, response.json()) == (400, {"message": "Malformed JSON body"})
        assert api.requests[0].body is None


def test_tag_endpoints(http):
    with SandboxAPI() as api:
        api.add_contacts([contact(1, id="c1", tags=["a"], updatedAt=OLD), contact(2, id="c2")])
        base = f"{api.url}/v1/contacts"

        added = http.post(f"{base}/c1/tags/add", json={"tags": ["b", "a", "b", "c"]})
        assert added.json() == {"id": "c1", "tags": ["a", "b", "c"]}
        assert api.contacts["c1"]["updatedAt"] != OLD
        api.contacts["c1"]["updatedAt"] = OLD
        assert http.post(f"{base}/c1/tags/add", json={"tags": ["c", "a"]}).json() == {"id": "c1", "tags": ["a", "b", "c"]}
        assert api.contacts["c1"]["updatedAt"] == OLD  # nothing changed, nothing bumped

        assert http.post(f"{base}/c1/tags/remove", json={"tags": ["nope"]}).json() == {"id": "c1", "tags": ["a", "b", "c"]}
        assert api.contacts["c1"]["updatedAt"] == OLD
        assert http.post(f"{base}/c1/tags/remove", json={"tags": ["a", "c", "zzz"]}).json() == {"id": "c1", "tags": ["b"]}
        assert api.contacts["c1"]["updatedAt"] != OLD
        assert http.post(f"{base}/c2/tags/add", json={"tags": ["black friday", "café"]}).json() == {
            "id": "c2",
            "tags": ["black friday", "café"],
        }
        assert api.contacts["c2"]["tags"] == ["black friday", "café"]

        for body in ({"tags": "a"}, {"tags": [1]}, {}, {"tags": None}):
            response = http.post(f"{base}/c1/tags/add", json=body)
            assert (response.status_code, response.json()) == (400, {"message": "tags must be an array of strings"})
        missing = http.post(f"{base}/nope/tags/remove", json={"tags": ["a"]})
        assert (missing.status_code, missing.json()) == (404, {"message": "Contact not found"})
        wrong_method = http.get(f"{base}/c1/tags/add")
        assert (wrong_method.status_code, wrong_method.json()) == (405, {"message": "Method not allowed"})


def test_ids_in_paths_are_percent_decoded_and_unknown_paths_are_404(http):
    with SandboxAPI() as api:
        api.add_contacts([contact(1, id="a/b c"), contact(2, id="ü?x")])
        base = f"{api.url}/v1/contacts"
        assert http.get(f"{base}/a%2Fb%20c").json()["id"] == "a/b c"
        assert http.post(f"{base}/%C3%BC%3Fx/tags/add", json={"tags": ["t"]}).json() == {"id": "ü?x", "tags": ["t"]}
        assert http.delete(f"{base}/a%2Fb%20c").json() == {"success": True}
        assert api.requests[0].path == "/v1/contacts/a%2Fb%20c"
        for path in (
            "/",
            "/v1/contact",
            "/v2/contacts",
            "/v1/contacts/",
            "/v1/contacts/x/y",
            "/v1/contacts/x/tags/other",
            "/v1/contacts/x/tags/add/more",
        ):
            response = http.get(api.url + path)
            assert (response.status_code, response.json()) == (404, {"message": "Not found"}), path


def test_add_contacts_keeps_given_fields_and_assigns_missing_ones():
    with SandboxAPI(contacts=2) as api:
        given = [contact(1, id="keep", createdAt=OLD, updatedAt=None), contact(2)]
        stored = api.add_contacts(given)
        assert stored[0] == {**given[0]}
        assert stored[1]["id"] == object_id(3) and ISO.match(stored[1]["createdAt"])
        assert stored[1]["updatedAt"] == stored[1]["createdAt"]
        assert list(api.contacts) == [object_id(1), object_id(2), "keep", object_id(3)]
        given[0]["name"] = "changed by the caller"
        assert api.contacts["keep"]["name"] == "Person 1"


# --- rate limit and faults --------------------------------------------------------------------------


def test_rate_limit_429_retry_after_and_early_requests(http):
    clock = VirtualClock()  # the window's time moves only when the test sleeps, however slow the machine
    with SandboxAPI(contacts=1, requests_per_minute=3, window_seconds=1, clock=clock.monotonic) as api:
        url = f"{api.url}/v1/contacts"
        assert [http.get(url).status_code for _ in range(3)] == [200, 200, 200]
        throttled = http.get(url)
        assert (throttled.status_code, throttled.json()) == (429, {"message": "Too many requests"})
        assert throttled.headers["Retry-After"] == "1"
        assert (api.throttled, api.early_requests) == (1, 0)
        too_soon = http.get(url)
        assert too_soon.status_code == 429
        assert (api.throttled, api.early_requests, len(api.early_requests)) == (2, 1, 1)
        clock.sleep(int(too_soon.headers["Retry-After"]))
        # the two 429s did not count: a full window is free again
        assert [http.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert (api.throttled, api.early_requests) == (3, 1)
        assert [r.status for r in api.requests] == [200, 200, 200, 429, 429, 200, 200, 200, 429]


def test_a_client_that_obeys_retry_after_is_never_early(http):
    clock = VirtualClock()
    with SandboxAPI(contacts=1, requests_per_minute=2, window_seconds=1, clock=clock.monotonic) as api:
        successes = 0
        while successes < 4:
            response = http.get(f"{api.url}/v1/contacts")
            if response.status_code == 429:
                clock.sleep(int(response.headers["Retry-After"]))
            else:
                successes += 1
        assert (api.throttled, api.early_requests) == (1, 0)


def test_rate_limit_is_per_key_and_counts_401s(http):
    with SandboxAPI(contacts=1, requests_per_minute=1) as api:
        url = f"{api.url}/v1/contacts"
        bad = {"x-api-key": "bad"}
        assert [requests.get(url, headers=bad).status_code for _ in range(2)] == [401, 429]
        assert [http.get(url).status_code for _ in range(2)] == [200, 429]


def outcome(session, method, url, **kwargs):
    try:
        return session.request(method, url, **kwargs).status_code
    except requests.ConnectionError:
        return None


def test_fault_sequence_is_deterministic_from_fault_seed(http):
    with SandboxAPI(contacts=5, error_rate=0.3, drop_rate=0.1, fault_seed=7) as api:
        got = [outcome(http, "GET", f"{api.url}/v1/contacts") for _ in range(40)]
    draws, errors, expected = random.Random(7), 0, []
    for _ in range(40):
        fault = draws.random()
        draws.random()  # the sandbox's second draw per request (the after-write fault): consumed to stay in step
        if fault < 0.1:
            expected.append(None)
        elif fault < 0.4:
            expected.append((500, 502, 503)[errors % 3])
            errors += 1
        else:
            expected.append(200)
    assert got == expected
    assert [r.status for r in api.requests] == expected
    assert got.count(None) == 7 and errors == 9


def test_injected_errors_cycle_statuses_and_alternate_json_and_html(http):
    with SandboxAPI(contacts=1, error_rate=1.0) as api:
        responses = [http.get(f"{api.url}/v1/contacts") for _ in range(4)]
        assert [r.status_code for r in responses] == [500, 502, 503, 500]
        assert [r.headers["Content-Type"].split(";")[0] for r in responses] == [
            "application/json",
            "text/html",
            "application/json",
            "text/html",
        ]
        assert responses[0].json() == {"message": "Internal server error"}
        assert responses[1].text == "<html><body><h1>502 Server Error</h1><ul></ul></body></html>"


def test_faults_come_before_auth(http):
    with SandboxAPI(contacts=1, drop_rate=1.0) as api:
        assert outcome(requests, "GET", f"{api.url}/v1/contacts", headers={"x-api-key": "bad"}) is None
        assert api.requests[0].status is None


def test_drop_after_write_applies_the_write_and_loses_the_response(http):
    with SandboxAPI(contacts=1, drop_after_write_rate=1.0) as api:
        base = f"{api.url}/v1/contacts"
        assert outcome(http, "POST", base, json=contact(1)) is None
        new_id = object_id(2)
        assert api.contacts[new_id]["name"] == "Person 1"
        assert outcome(http, "PUT", f"{base}/{new_id}", json=contact(1, name="Renamed")) is None
        assert api.contacts[new_id]["name"] == "Renamed"
        assert outcome(http, "POST", f"{base}/{new_id}/tags/add", json={"tags": ["x"]}) is None
        assert api.contacts[new_id]["tags"] == ["x"]
        assert outcome(http, "POST", base, json=contact(1)) == 409  # nothing applied, so answered
        assert outcome(http, "GET", f"{base}/{new_id}") == 200
        assert outcome(http, "DELETE", f"{base}/{new_id}") is None
        assert new_id not in api.contacts
        assert [r.status for r in api.requests] == [None, None, None, 409, 200, None]


def test_echo_headers_in_errors_leaks_the_key_on_purpose():
    with SandboxAPI(contacts=1, echo_headers_in_errors=True) as api:
        wrong = requests.get(f"{api.url}/v1/contacts", headers={"x-api-key": "wrong-key"})
        assert wrong.status_code == 401 and wrong.json()["headers"]["x-api-key"] == "wrong-key"
        missing = requests.get(f"{api.url}/v1/contacts/nope", headers={"x-api-key": KEY})
        assert missing.json()["message"] == "Contact not found" and missing.json()["headers"]["x-api-key"] == KEY
    with SandboxAPI(contacts=1, echo_headers_in_errors=True, error_rate=1.0) as api:
        for _ in range(2):
            response = requests.get(f"{api.url}/v1/contacts", headers={"x-api-key": KEY})
            assert KEY in response.text


def test_latency(http):
    with SandboxAPI(contacts=1, latency_ms=100) as api:
        start = time.monotonic()
        assert http.get(f"{api.url}/v1/contacts").status_code == 200
        assert time.monotonic() - start >= 0.1


def test_latency_per_request_and_per_contact_listed_is_spent_by_the_given_elapse(http):
    spent = []
    with SandboxAPI(contacts=5, latency_ms=100, latency_ms_per_contact=10, elapse=spent.append) as api:
        assert len(http.get(f"{api.url}/v1/contacts", params={"limit": 3}).json()) == 3
        assert http.get(f"{api.url}/v1/contacts/{next(iter(api.contacts))}").status_code == 200
        assert len(http.get(f"{api.url}/v1/contacts", params={"page": 2}).json()) == 0
    assert spent == pytest.approx([0.13, 0.1, 0.1])


# --- transport and inspection ------------------------------------------------------------------------


def test_connections_are_kept_alive_across_responses():
    with SandboxAPI(contacts=3) as api:
        connection = HTTPConnection("127.0.0.1", int(api.url.rsplit(":", 1)[1]))
        statuses = []
        for key in ("wrong", KEY, KEY):
            connection.request("GET", "/v1/contacts?limit=2", headers={"x-api-key": key})
            response = connection.getresponse()
            assert int(response.headers["Content-Length"]) == len(response.read())
            statuses.append(response.status)
            sock = connection.sock
        assert statuses == [401, 200, 200] and connection.sock is sock
        connection.close()


def test_recorded_requests_and_reset(http):
    with SandboxAPI(contacts=3) as api:
        http.get(f"{api.url}/v1/contacts", params={"limit": 2, "tags": "VIP,café"})
        http.post(f"{api.url}/v1/contacts/{object_id(1)}/tags/add", json={"tags": ["x"]})
        first, second = api.requests
        assert (first.method, first.path, first.query, first.status, first.body) == (
            "GET",
            "/v1/contacts",
            {"limit": "2", "tags": "VIP,café"},
            200,
            None,
        )
        assert (second.method, second.path, second.query, second.status, second.body) == (
            "POST",
            f"/v1/contacts/{object_id(1)}/tags/add",
            {},
            200,
            {"tags": ["x"]},
        )
        assert first.received_at <= second.received_at <= time.monotonic()
        api.reset_requests()
        assert api.requests == []


def test_cli_serves_until_sigterm():
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "integration_tests.sandbox",
            "--port",
            "0",
            "--contacts",
            "5",
            "--seed",
            "1",
            "--api-key",
            "cli-key",
            "--max-limit",
            "3",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"Sandbox Contacts API on (http://127\.0\.0\.1:\d+) \(key: cli-key\)\n", line)
        assert match, line
        response = requests.get(f"{match[1]}/v1/contacts", params={"limit": 10}, headers={"x-api-key": "cli-key"})
        assert ids_of(response) == [object_id(i) for i in range(1, 4)]
        assert response.json() == generate_contacts(5, seed=1)[:3]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()


# --- seeded data -------------------------------------------------------------------------------------


def test_seeded_data_is_deterministic():
    assert generate_contacts(500, seed=11) == generate_contacts(500, seed=11)
    assert generate_contacts(500, seed=11) != generate_contacts(500, seed=12)
    with SandboxAPI(contacts=50, seed=11) as api:
        assert api.snapshot() == generate_contacts(50, seed=11)
    assert generate_contacts(2, seed=1) == [
        {
            "id": "66000000a1b2c3d4e5000001",
            "name": "Ахмед Кузнецова",
            "phoneNumber": "+971576397250",
            "location": LOCATIONS[1],
            "stage": "Lead",
            "notes": "Ünïcödé note ✨",
            "customFields": {"score": 78, "segment": "dormant"},
            "tags": [],
            "channel": "Instagram",
            "instagramId": "17800000000000000",
            "lastActivity": None,
            "createdAt": "2025-08-20T08:23:09.039Z",
            "updatedAt": "2026-04-04T09:10:39.959Z",
        },
        {
            "id": "66000000a1b2c3d4e5000002",
            "name": "فاطمة الزهراء",
            "phoneNumber": "+971504431313",
            "stage": "Subscriber",
            "notes": "Prefers WhatsApp",
            "customFields": {"score": 93, "segment": "dormant"},
            "tags": ["café", "support"],
            "channel": "Whatsapp",
            "username": "ahmed.k495",
            "lastActivity": None,
            "createdAt": "2025-12-02T10:51:00.265Z",
            "updatedAt": "2026-01-17T12:23:00.443Z",
        },
    ]


def test_seeded_data_has_the_awkward_shapes():
    contacts = generate_contacts(2000, seed=1)
    assert [c["id"] for c in contacts] == [object_id(i) for i in range(1, 2001)]
    phones = [c["phoneNumber"] for c in contacts]
    assert len(set(phones)) == 2000 and all(re.fullmatch(r"\+9715\d{8}", p) for p in phones)
    assert sum("updatedAt" not in c for c in contacts) == 110  # ~5 %
    assert sum("updatedAt" in c and c["updatedAt"] is None for c in contacts) == 36  # ~2 %
    created = [c["createdAt"] for c in contacts]
    assert created == sorted(created) and created[0] >= "2025-01-01" and created[-1] < "2026-07-01"
    for c in contacts:
        for field in ("createdAt", "updatedAt", "lastActivity"):
            assert c.get(field) is None or ISO.match(c[field])
        assert c.get("updatedAt") is None or c["updatedAt"] >= c["createdAt"]
        assert len(set(c["tags"])) == len(c["tags"]) <= 5 and set(c["tags"]) <= set(TAG_POOL)
        assert c["name"] in NAME_POOL
    names = {c["name"] for c in contacts}
    assert {"李雷", "Ахмед Хан", "Nguyễn Văn An", "José Müller", "Zoë Ødegård", "Zoë 🌸"} <= names
    assert sum(not c["name"].isascii() for c in contacts) == 1559
    missing = {f: sum(f not in c for c in contacts) for f in ("location", "notes", "customFields", "channel", "username")}
    assert missing == {"location": 306, "notes": 424, "customFields": 603, "channel": 193, "username": 1387}
    assert sum(c.get("notes", "") is None for c in contacts) == 350
    assert sum(c.get("lastActivity", "") is None for c in contacts) == 612
    assert (sum(not c["tags"] for c in contacts), sum(len(c["tags"]) == 5 for c in contacts)) == (352, 340)
