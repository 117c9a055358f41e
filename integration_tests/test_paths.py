"""Contact ids with `/`, `?`, `#`, `%`, spaces or unicode are percent-encoded into one path segment; the ids `.` and `..`,
which requests would send as dot segments whatever their encoding, are refused. The sandbox's log of raw request paths
proves that no update, delete or tag request leaves `/v1/contacts/{id}` and its tag paths."""

import re
from urllib.parse import unquote

from integration_tests.connector import complete, counts, phone, record, seed, summary, write, writes

HOSTILE_IDS = [
    "...",
    "../x",
    "a/b",
    "a/../../b",
    "/leading",
    "q?x=1",
    "h#frag",
    "100%",
    "p%2F",
    "%2E%2E",
    "sp ace",
    "tab\tid",
    "日本",
    "Zoë ✨",
    "a;b=c",
    "a+b&c",
]
# One segment: unreserved characters and %XX escapes only, and never a dot segment.
SEGMENT = r"(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})+"
ALLOWED = re.compile(rf"/v1/contacts(?:/(?P<id>{SEGMENT})(?:/tags/(?:add|remove))?)?")


def assert_paths_stay_inside(api, ids):
    touched = set()
    for request in api.requests:
        match = ALLOWED.fullmatch(request.path)
        assert match, f"{request.method} {request.path} leaves /v1/contacts/{{id}}"
        segment = match.group("id")
        if segment is not None:
            assert segment not in (".", ".."), request.path
            assert unquote(segment) in ids, request.path
            touched.add(unquote(segment))
    return touched


def test_hostile_ids_stay_in_one_encoded_segment_for_updates_tags_and_deletes(sandbox_factory, tmp_path):
    api = sandbox_factory()
    api.add_contacts([{"id": cid, "name": f"n{n}", "phoneNumber": phone(n), "tags": ["old"]} for n, cid in enumerate(HOSTILE_IDS)])
    half = len(HOSTILE_IDS) // 2
    messages = (
        # Update by id (PUT), sync its tags (tags/add and tags/remove), for every id.
        [
            record({"id": cid, "name": f"renamed {n}", "phoneNumber": phone(n), "tags": ["new"]}, "people")
            for n, cid in enumerate(HOSTILE_IDS)
        ]
        # contact_tags rows by id: add one tag, remove another.
        + [record({"contact_id": cid, "tag": "row"}, "tag_rows") for cid in HOSTILE_IDS]
        + [record({"contact_id": cid, "tag": "new"}, "untag_rows") for cid in HOSTILE_IDS[:half]]
        # Delete by id, half of them.
        + [record({"id": cid}, "gone") for cid in HOSTILE_IDS[half:]]
    )
    streams = [
        ("people", "append_dedup", "contacts"),
        ("tag_rows", "append", "contact_tags"),
        ("untag_rows", "soft_delete", "contact_tags"),
        ("gone", "soft_delete", "contacts"),
    ]
    run = write(api, tmp_path, streams, *messages, tag_mode="sync")
    assert run.returncode == 0, run.stderr
    # Each people record an update (+new, -old), each tag row a change of one tag, each gone record a delete: none rejected.
    every = len(HOSTILE_IDS)
    assert summary(run) == counts(updated=2 * every + half, tags_added=2 * every, tags_removed=every + half, deleted=every - half)
    touched = assert_paths_stay_inside(api, set(HOSTILE_IDS))
    assert touched == set(HOSTILE_IDS)  # every id reached the API, as itself
    kinds = {(r.method, r.path.rsplit("/", 1)[-1] if "/tags/" in r.path else "contact") for r in api.requests}
    assert {("PUT", "contact"), ("DELETE", "contact"), ("POST", "add"), ("POST", "remove")} <= kinds
    final = {c["id"]: c for c in api.snapshot()}
    assert sorted(final) == sorted(HOSTILE_IDS[:half])
    for n, cid in enumerate(HOSTILE_IDS[:half]):
        assert final[cid]["name"] == f"renamed {n}" and sorted(final[cid]["tags"]) == ["row"]


def test_dot_segment_ids_are_rejected_and_never_sent(sandbox_factory, tmp_path):
    """requests re-decodes %2E when it prepares a URL, so `/v1/contacts/%2E%2E` would go out as `/v1/contacts/..`, which
    servers and proxies resolve to `/v1/`. No contact id is a dot segment: such records are rejected, saying why, and
    a listed contact with such an id is never deleted by a mirror sync."""
    api = sandbox_factory()
    api.add_contacts(
        [{"id": "..", "name": "Dots", "phoneNumber": phone(1), "tags": []}, {"id": ".", "name": "Dot", "phoneNumber": phone(2), "tags": []}]
    )
    run = write(
        api,
        tmp_path,
        [("contacts", "append_dedup"), ("rows", "append", "contact_tags")],
        record({"id": "..", "name": "Dots 2", "phoneNumber": phone(1), "tags": ["x"]}),
        record({"contact_id": ".", "tag": "x"}, "rows"),
        max_rejected_records=2,
    )
    assert run.returncode == 0, run.stderr
    assert summary(run) == counts(rejected=2)
    assert [line.split(": ", 1)[1] for line in run.logs if line.startswith("rejected ")] == [
        "id '..' cannot be a contact id: it would name another path of the API",
        "contact_id '.' cannot be a contact id: it would name another path of the API",
    ]
    assert writes(api) == []
    [zoe] = seed(api, {"name": "Zoë", "phoneNumber": phone(3)})
    run = write(
        api,
        tmp_path,
        [("contacts", "overwrite")],
        record({"id": zoe, "name": "Zoë", "phoneNumber": phone(3)}),
        complete(),
        delete_absent_contacts=True,
    )
    assert run.returncode == 0, run.stderr
    assert writes(api) == []
    assert "could not delete contact '..', absent from the sync: '..' cannot be a contact id" in run.logs
    assert sorted(c["id"] for c in api.snapshot()) == sorted(["..", ".", zoe])
