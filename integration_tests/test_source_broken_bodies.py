"""Issue 12 §3: bodies that break. The real CLI against a sandbox whose list answers are HTTP 200 with a body that is
not contacts (a proxy's maintenance page, an error object, a wrapped array, null, nothing, JSON cut short), and whose
strings are cut mid-emoji: after a good answer such a body is retried like a 503, then fails quoting what came and
what was expected; on the first request it means base_url is wrong; a lone surrogate never stops a sync."""

import pytest

from integration_tests.connector import as_emitted, list_requests, requests_of, run_connector, source_config
from integration_tests.connector import source_catalog as catalog
from integration_tests.faults import BROKEN_BODIES

# What each body looks like in a message.
DESCRIBED = {
    "html": "a body that starts '<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Down for "
    "maintenance</h1></body></html>'",
    "message": """a body that starts '{"message": "Internal error, please try again"}'""",
    "data": """a body that starts '{"data": [{"id": "66000000a1b2c3d4e5000001"}], "total": 1}'""",
    "null": "a body that starts 'null'",
    "empty": "an empty body",
    "truncated": """a body that starts '[{"id": "66000000a1b2c3d4e5000001", "name": "Zo'""",
}
KINDS = sorted(BROKEN_BODIES)


@pytest.mark.parametrize("kind", KINDS)
def test_after_a_good_answer_a_broken_body_is_retried_with_backoff_and_nothing_is_lost(sandbox_factory, tmp_path, clock, kind):
    api = sandbox_factory(contacts=250, broken_body=kind, broken_body_after=1, broken_body_times=2)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 0, run.stderr
    assert run.records["contacts"] == [as_emitted(contact) for contact in api.snapshot()]
    # Page 1 answered well; the first two answers for page 2 broke, the third did not.
    assert list_requests(api) == requests_of([1, 2, 2, 2, 4, 3, 1, 2, 3, 4], 100)
    assert [line for line in run.logs if line.startswith("The Contacts API answered")] == [
        f"The Contacts API answered HTTP 200 with {DESCRIBED[kind]}, not a JSON array of contacts. Retrying GET "
        f"/v1/contacts?limit=100&page=2 in {wait:g} s (try {tries})."
        for wait, tries in ((2, 2), (4, 3))
    ]
    assert clock.sleeps == [2, 4]


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_stays_broken_fails_quoting_its_start_and_what_was_expected(sandbox_factory, tmp_path, kind):
    api = sandbox_factory(contacts=250, broken_body=kind, broken_body_after=1)
    run = run_connector("source-contacts", "read", tmp_path, source_config(api, page_size=100), catalog("contacts"))
    assert run.returncode == 1
    assert "contacts" not in run.records  # the sentinel search was still under way
    assert list_requests(api) == requests_of([1] + [2] * 6, 100)
    assert run.errors[0]["failure_type"] == "transient_error"
    assert run.errors[0]["message"] == (
        f"The Contacts API answered HTTP 200 with {DESCRIBED[kind]}, not a JSON array of contacts. "
        "Gave up after 6 tries of GET /v1/contacts?limit=100&page=2."
    )


@pytest.mark.parametrize("verb", ["check", "read"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_body_on_the_first_request_means_base_url_is_not_the_api(sandbox_factory, tmp_path, kind, verb):
    api = sandbox_factory(contacts=5, broken_body=kind)
    run = run_connector("source-contacts", verb, tmp_path, source_config(api), catalog("contacts") if verb == "read" else None)
    message = (
        f"{api.url} answered, but not like the Contacts API (HTTP 200 with {DESCRIBED[kind]}, not a JSON array of contacts). "
        "Check base_url."
    )
    if verb == "check":
        assert run.status == {"status": "FAILED", "message": message}
    else:
        assert (run.returncode, run.errors[0]["failure_type"], run.errors[0]["message"]) == (1, "config_error", message)
    assert len(api.requests) == 1


# --- text Python cannot encode -----------------------------------------------------------------------------------

CUT = [
    # stored: name, notes, tags                                          served cut to 5 UTF-16 units, as delivered
    (("Zoë 🌸 Ødegård", "Tel 📞 later", ["🚀🚀🚀", "VIP"]), ("Zoë \ufffd", "Tel \ufffd", ["🚀🚀\ufffd", "VIP"])),
    (("李雷 🐉 Li", "ok", []), ("李雷 🐉", "ok", [])),  # the emoji ends on the cut: whole
    (("Ana", None, ["café ☕", "日本"]), ("Ana", None, ["café ", "日本"])),
]


@pytest.mark.parametrize("sync_mode", ["full_refresh", "incremental"])
@pytest.mark.parametrize("streams", [("contacts",), ("contact_tags",), ("contacts", "contact_tags")])
def test_strings_cut_mid_emoji_arrive_with_u_fffd_on_every_stream_combination(sandbox_factory, tmp_path, streams, sync_mode):
    api = sandbox_factory(cut_strings_at=5)
    stored = api.add_contacts(
        [{"name": name, "phoneNumber": f"+97150123400{n}", "notes": notes, "tags": tags} for n, ((name, notes, tags), _) in enumerate(CUT)]
    )
    run = run_connector("source-contacts", "read", tmp_path, source_config(api), catalog(*streams, sync_mode=sync_mode))
    assert run.returncode == 0, run.stderr
    delivered = [
        as_emitted({**contact, "name": name, "notes": notes, "tags": tags}) for contact, (_, (name, notes, tags)) in zip(stored, CUT)
    ]
    if "contacts" in streams:
        assert run.records["contacts"] == delivered
    if "contact_tags" in streams:
        assert run.records["contact_tags"] == [
            {"contact_id": c["id"], "tag": tag, "updatedAt": c["updatedAt"]} for c in delivered for tag in c["tags"]
        ]
    assert "\\ud8" not in run.stdout.lower() and "\ufffd" in run.stdout
