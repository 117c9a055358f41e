"""Issue 5 §4: malformed input lines and records, each handled as the docs say (docs/integrations/destinations/contacts.md,
"Reliability" → "Bad input"): rejected with a reason and its position, or ignored, or written as given; and every valid
record written, so the account ends exactly as the valid records say."""

import json

import pytest

from integration_tests.connector import config, counts, phone, record, run_connector, state, stdin, summary, write
from integration_tests.connector import destination_catalog as catalog
from integration_tests.sandbox import ApiError, SandboxAPI

BODY_LIMIT = 1_000_000  # bytes of JSON the sandbox below accepts in one write, like a real API's body limit


class LimitedSandbox(SandboxAPI):
    """The sandbox, answering 413 to a write body over BODY_LIMIT."""

    def _route(self, method, path, query, body, body_ok):
        if method in ("POST", "PUT") and body is not None and len(json.dumps(body)) > BODY_LIMIT:
            raise ApiError(413, "Payload too large")
        return super()._route(method, path, query, body, body_ok)


@pytest.fixture
def api(sandbox_factory):
    return sandbox_factory(cls=LimitedSandbox)


STREAMS = [("contacts", "append_dedup")]
LONG_NAME = "Zoë " + "x" * 100_000  # long, but within what the API takes: written as given
HUGE_NOTES = "n" * 2_000_000  # more than the API takes in one body: its 413 rejects the record

# (kind, input line: a message, or bytes as given; reason in the rejected-records file, None: not rejected). The lines
# between them are valid.
CASES = [
    ("state before any record", state(1), None),
    ("not JSON", b"this is not json", "input line is not JSON"),
    ("JSON but not an object", b"[1, 2, 3]", "input line is not a valid Airbyte message"),
    ("a bare number", b"42", "input line is not a valid Airbyte message"),
    ("unknown message type", b'{"type": "WHATEVER"}', "input line is not a valid Airbyte message"),
    ("RECORD without a record", b'{"type": "RECORD"}', "input line is not a valid Airbyte record message"),
    ("STATE without a state", b'{"type": "STATE"}', "input line is not a valid Airbyte message"),
    (
        "record without a stream",
        b'{"type": "RECORD", "record": {"emitted_at": 1, "data": {"name": "a", "phoneNumber": "+971501239001"}}}',
        "input line is not a valid Airbyte record message",
    ),
    (
        "unknown stream",
        record({"name": "Other", "phoneNumber": phone(9002)}, stream="leads"),
        "stream 'leads' is not in the configured catalog",
    ),
    ("missing name", record({"phoneNumber": phone(9003)}), "name missing: append_dedup may create the contact, and the API requires both"),
    ("missing phone", record({"name": "No phone"}), "phoneNumber missing: append_dedup may create the contact, and the API requires both"),
    ("empty name", record({"name": "  ", "phoneNumber": phone(9004)}), "name is empty"),
    ("unparsable phone", record({"name": "Letters", "phoneNumber": "call me maybe"}), "phoneNumber is not a phone number (not a number)"),
    ("phone too short", record({"name": "Short", "phoneNumber": "+971 12"}), "phoneNumber has the wrong number of digits for its country"),
    (
        "phone without country code",
        record({"name": "Local", "phoneNumber": "0501234567"}),
        "phoneNumber has no +country code and default_region is not set",
    ),
    ("name a number", record({"name": 5, "phoneNumber": phone(9005)}), "name must be a string, not a number"),
    ("phone a number", record({"name": "Numeric", "phoneNumber": 971501239006}), "phoneNumber must be a string, not a number"),
    ("stage an array", record({"name": "Stage", "phoneNumber": phone(9007), "stage": ["Lead"]}), "stage must be a string, not an array"),
    (
        "customFields a string",
        record({"name": "CF", "phoneNumber": phone(9008), "customFields": "{}"}),
        "customFields must be an object, not a string",
    ),
    (
        "location without id",
        record({"name": "Loc", "phoneNumber": phone(9009), "location": {"title": "Dubai Mall"}}),
        "location must be an object with a string id",
    ),
    ("id a number", record({"id": 7, "name": "Id", "phoneNumber": phone(9010)}), "id must be a non-empty string, not a number"),
    (
        "non-string tags",
        record({"name": "Tags", "phoneNumber": phone(9011), "tags": ["ok", 3]}),
        "tags must be an array of non-empty strings",
    ),
    ("tags a string", record({"name": "Tags", "phoneNumber": phone(9012), "tags": "VIP"}), "tags must be an array of non-empty strings"),
    ("empty tag", record({"name": "Tags", "phoneNumber": phone(9013), "tags": [""]}), "tags must be an array of non-empty strings"),
    ("null data", b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, "data": null}}', "record data must be an object"),
    (
        "data an array",
        b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, "data": ["Zoe", "+971501234567"]}}',
        "record data must be an object",
    ),
    (
        "data a string",
        b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, "data": "Zoe"}}',
        "record data must be an object",
    ),
    ("a LOG message", b'{"type": "LOG", "log": {"level": "INFO", "message": "from upstream"}}', None),
    ("a TRACE message", b'{"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1, "error": {"message": "upstream failed"}}}', None),
    (
        "raw NUL byte in a line",
        b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, '
        b'"data": {"name": "a\x00b", "phoneNumber": "+971501239014"}}}',
        "input line is not JSON",
    ),
    (
        "raw control character in a string",
        b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, '
        b'"data": {"name": "a\x07b", "phoneNumber": "+971501239015"}}}',
        "input line is not JSON",
    ),
    (
        "bytes that are not UTF-8",
        b'{"type": "RECORD", "record": {"stream": "contacts", "emitted_at": 1, '
        b'"data": {"name": "caf\xe9", "phoneNumber": "+971501239016"}}}',
        "input line is not valid UTF-8",
    ),
    (
        "huge string, over the API's body limit",
        record({"name": "Huge", "phoneNumber": phone(9017), "notes": HUGE_NOTES}),
        "the API refused the record (HTTP 413: Payload too large)",
    ),
    ("blank line", b"   ", None),
]

# Valid records: one before each case, so every case sits between two writes; plus the tricky-but-valid ones.
VALID = [{"name": f"Valid {n}", "phoneNumber": phone(n), "tags": [f"t{n}"]} for n in range(len(CASES))]
TRICKY = [
    # JSON-escaped control characters are data: written as given.
    {"name": "Zoë\u0000\u0007\u001f", "phoneNumber": phone(8001), "notes": "line\nbreak\ttab\r"},
    # A long string within the API's limit: written as given.
    {"name": LONG_NAME, "phoneNumber": phone(8002)},
    # Duplicate records: the same contact twice (another spelling of the phone), the last one wins; tags add up.
    {"name": "Dup", "phoneNumber": phone(8003), "stage": "Lead", "tags": ["a"]},
    {"name": "Dup", "phoneNumber": phone(8003), "stage": "Lead", "tags": ["a"]},
    {"name": "Dup again", "phoneNumber": "+971 50 123 8003", "stage": "Customer", "tags": ["b"]},
    # Nulls mean "not given"; unknown fields are ignored.
    {"name": "Nulls", "phoneNumber": phone(8004), "notes": None, "tags": None, "stage": None, "channel": "Whatsapp"},
]


def expected_account():
    contacts = {c["phoneNumber"]: {"name": c["name"], "tags": c["tags"]} for c in VALID}
    contacts[phone(8001)] = {"name": "Zoë\u0000\u0007\u001f", "notes": "line\nbreak\ttab\r", "tags": []}
    contacts[phone(8002)] = {"name": LONG_NAME, "tags": []}
    contacts[phone(8003)] = {"name": "Dup again", "stage": "Customer", "tags": ["a", "b"]}
    contacts[phone(8004)] = {"name": "Nulls", "tags": []}
    return contacts


def account(api):
    return {
        c["phoneNumber"]: {k: v for k, v in c.items() if k not in ("id", "phoneNumber", "createdAt", "updatedAt")} for c in api.snapshot()
    }


def test_every_kind_of_bad_input_is_handled_and_every_valid_record_written(api, tmp_path):
    lines, expected_rejections = [], []
    for (kind, line, reason), valid in zip(CASES, VALID):
        lines.append(record(valid))
        lines.append(line)
        if reason:
            expected_rejections.append((kind, len(lines), reason))
    lines += [record(data) for data in TRICKY]
    truncated = json.dumps(record({"name": "Cut", "phoneNumber": phone(9999)})).encode()[:40]  # the input ends mid-line, no newline
    expected_rejections.append(("truncated last line", len(lines) + 1, "input line is not JSON"))
    # Blank lines are skipped, not counted: input message N is the N-th non-blank line.
    blank_at = next(i for i, line in enumerate(lines, start=1) if isinstance(line, bytes) and not line.strip())
    expected_rejections = [(k, n - 1 if n > blank_at else n, r) for k, n, r in expected_rejections]

    run = run_connector(
        "destination-contacts",
        "write",
        tmp_path,
        config(api, max_rejected_records=1000, rejected_records_path=str(tmp_path / "rejected.jsonl")),
        catalog(*STREAMS),
        stdin=stdin(*lines) + truncated,
    )  # stdin() puts a newline after each line
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert account(api) == expected_account()
    assert len(api.snapshot()) == len({c["phoneNumber"] for c in api.snapshot()})  # no duplicate contact
    assert len(run.states) == 1  # the state before any record, echoed

    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(line["message"], line["reason"]) for line in rejected] == [(n, r) for _, n, r in expected_rejections]
    for line in rejected:  # position: always the input message, and the stream's own count when the stream is known
        assert line["message"] >= 1 and (line["stream"] is None) == (line["record"] is None)
    # Every valid contact created; the second "Dup" unchanged, "Dup again" an update; tags: each VALID's one, a and b.
    assert summary(run) == counts(
        created=len(expected_account()), unchanged=1, updated=1, tags_added=len(VALID) + 2, rejected=len(expected_rejections)
    )
    logged = [line for line in run.logs if line.startswith("rejected ")]
    assert logged[:3] == [
        f"rejected input message {expected_rejections[0][1]}: input line is not JSON",
        f"rejected input message {expected_rejections[1][1]}: input line is not a valid Airbyte message",
        f"rejected input message {expected_rejections[2][1]}: input line is not a valid Airbyte message",
    ]
    assert len(logged) == 20  # the first 20 one by one; the file has them all


@pytest.mark.parametrize("lines", [[], ["", "", "   "]], ids=["empty input", "only blank lines"])
def test_an_empty_stream_writes_nothing_and_succeeds(api, tmp_path, lines):
    run = write(api, tmp_path, STREAMS, *lines, rejected_records_path=str(tmp_path / "rejected.jsonl"))
    assert run.returncode == 0, run.stderr
    assert api.requests == [] and api.snapshot() == []
    assert summary(run) == counts()
    assert (tmp_path / "rejected.jsonl").read_text() == ""


def test_rejections_past_the_limit_fail_the_sync_after_writing_the_valid_records(api, tmp_path):
    run = write(api, tmp_path, STREAMS, record(VALID[0]), "not json", "[]", record(VALID[1]), max_rejected_records=1)
    assert run.returncode == 1
    [error] = run.errors
    assert error["failure_type"] == "system_error"
    assert error["message"].startswith("2 records were rejected, more than max_rejected_records (1)")
    assert "First: rejected input message 2: input line is not JSON" in error["message"]
    assert sorted(c["name"] for c in api.snapshot()) == ["Valid 0", "Valid 1"]
