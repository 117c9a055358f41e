"""Issue 5 §6: the API key never appears in stdout, stderr or any file a connector writes, whatever happens: 5xx
retries whose bodies echo the request headers (JSON and HTML), 401s, errors the API explains with the headers in the
body, check failures, dry runs, rejected records (log, file and bucket), failed syncs. Both connectors. Nor do the
object store's credentials (issue 20 §2)."""

import functools
import json

import pytest

from integration_tests.connector import assert_no_leak, config, phone, record, run_connector, source_catalog, source_config, write
from integration_tests.sandbox import ApiError, SandboxAPI

KEY = "sk-live-9d2f7c41e8a5b3"


class ExplainingSandbox(SandboxAPI):
    """Echoes request headers (x-api-key included) in every error body; also refuses, with such a body, a write whose
    stage is "Refused" (a 422 the destination turns into a rejection) and a list with locationId "bad" (a 400 that
    fails a source sync)."""

    def _route(self, method, path, query, body, body_ok):
        if method in ("POST", "PUT") and isinstance(body, dict) and body.get("stage") == "Refused":
            raise ApiError(422, "stage is not one of the account's stages")
        if method == "GET" and query.get("locationId") == "bad":
            raise ApiError(400, "unknown locationId")
        return super()._route(method, path, query, body, body_ok)


@pytest.fixture
def sandbox(sandbox_factory):
    return functools.partial(sandbox_factory, cls=ExplainingSandbox, api_key=KEY, echo_headers_in_errors=True)


STREAMS = [("contacts", "append_dedup")]
RECORDS = [record({"name": f"C{n}", "phoneNumber": phone(n), "tags": ["t"]}) for n in range(12)] + [
    record({"name": "Refused", "phoneNumber": "+971509999999", "stage": "Refused"}),
    "not json",
    record({"name": "Bad phone", "phoneNumber": "12"}),
]
UNTHROTTLED = {"requests_per_minute": 10_000}


# The rejected records' (input message, reason): the API's explanation of its 422 quoted, with the key masked.
REFUSED = (13, "the API refused the record (HTTP 422: stage is not one of the account's stages)")
NOT_JSON, BAD_PHONE = (14, "input line is not JSON"), (15, "phoneNumber has no +country code and default_region is not set")
SCENARIOS = {
    # name: (sandbox options, config options, expected exit code, expected rejections)
    "5xx and drops, retried; rejections in the log and the file": (
        {"error_rate": 0.15, "drop_rate": 0.03, "drop_after_write_rate": 0.03, "fault_seed": 4},
        {"max_rejected_records": 10},
        0,
        [REFUSED, NOT_JSON, BAD_PHONE],
    ),
    # A dry run sends no write, so the API refuses none.
    "dry run under 5xx": ({"error_rate": 0.3, "fault_seed": 2}, {"dry_run": True, "max_rejected_records": 10}, 0, [NOT_JSON, BAD_PHONE]),
    "too many rejections: the sync fails quoting the first": ({}, {"max_rejected_records": 0}, 1, [REFUSED, NOT_JSON, BAD_PHONE]),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_destination_write_never_shows_the_key(name, sandbox, tmp_path):
    options, config_options, exit_code, rejections = SCENARIOS[name]
    api = sandbox(**options)
    run = write(
        api,
        tmp_path,
        STREAMS,
        *RECORDS,
        api_key=KEY,
        rejected_records_path=str(tmp_path / "rejected.jsonl"),
        **UNTHROTTLED,
        **config_options,
    )
    assert run.returncode == exit_code, run.stderr[-2000:]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [(line["message"], line["reason"]) for line in rejected] == rejections
    assert_no_leak(run, KEY, tmp_path)


def test_destination_rejected_key_and_failed_check_never_show_it(sandbox, tmp_path):
    api = sandbox()
    wrong = "sk-live-wrong-5e6f7a8b9c"
    for run in (
        run_connector("destination-contacts", "check", tmp_path, config(api, api_key=wrong, **UNTHROTTLED)),
        write(api, tmp_path, STREAMS, *RECORDS, api_key=wrong, **UNTHROTTLED),
    ):
        assert "HTTP 401" in run.stdout
        assert_no_leak(run, wrong, tmp_path)
    failing = sandbox(error_rate=1.0)
    run = run_connector("destination-contacts", "check", tmp_path, config(failing, api_key=KEY, **UNTHROTTLED))
    assert run.status["status"] == "FAILED"
    assert_no_leak(run, KEY, tmp_path)


def test_source_read_and_check_never_show_the_key(sandbox, tmp_path):
    api = sandbox(contacts=30, error_rate=0.2, drop_rate=0.05, fault_seed=3)
    run = run_connector(
        "source-contacts",
        "read",
        tmp_path,
        source_config(api, api_key=KEY, page_size=10, **UNTHROTTLED),
        source_catalog("contacts", "contact_tags"),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records["contacts"]) == 30
    assert_no_leak(run, KEY, tmp_path)

    run = run_connector("source-contacts", "read", tmp_path, source_config(api, api_key=KEY, location_id="bad"), source_catalog("contacts"))
    assert run.returncode != 0 and "unknown locationId" in run.errors[0]["message"]  # the server's body, quoted with the key masked
    assert_no_leak(run, KEY, tmp_path)

    wrong = "sk-live-wrong-0a1b2c3d4e"
    for run in (
        run_connector("source-contacts", "check", tmp_path, source_config(api, api_key=wrong)),
        run_connector("source-contacts", "read", tmp_path, source_config(api, api_key=wrong), source_catalog("contacts")),
    ):
        assert "HTTP 401" in run.stdout
        assert_no_leak(run, wrong, tmp_path)

    failing = sandbox(error_rate=1.0)
    run = run_connector("source-contacts", "check", tmp_path, source_config(failing, api_key=KEY))
    assert run.status["status"] == "FAILED"
    assert_no_leak(run, KEY, tmp_path)


def test_destination_object_storage_credentials_never_show(sandbox, object_store, tmp_path):
    """Issue 20 §2: the bucket's access key id and secret, like the API key, in no output and no stored object, whether
    the rejections are stored, check is refused, or a sync fails storing them."""
    api = sandbox()
    bucket = object_store.new_bucket()
    wrong_secret = "wrong-secret-3f9a8b7c6d5e"
    good, refused = object_store.config(bucket), object_store.config(bucket, secret_access_key=wrong_secret)
    options = {"api_key": KEY, "max_rejected_records": 10, **UNTHROTTLED}
    stored = write(api, tmp_path, STREAMS, *RECORDS, object_storage_config=good, **options)
    assert stored.returncode == 0, stored.stderr[-2000:]
    body = "".join(object_store.objects(bucket).values())  # the contacts stream's object, and that of the line that is not JSON
    assert sorted((line["message"], line["reason"]) for line in map(json.loads, body.splitlines())) == [REFUSED, NOT_JSON, BAD_PHONE]
    checked = run_connector("destination-contacts", "check", tmp_path, config(api, object_storage_config=refused, **options))
    assert checked.status["status"] == "FAILED" and "SignatureDoesNotMatch" in checked.status["message"]
    failed = write(api, tmp_path, STREAMS, *RECORDS, object_storage_config=refused, **options)
    assert failed.returncode == 1 and "Rejected records could not be stored" in failed.errors[0]["message"]
    for secret in (KEY, object_store.access_key_id, object_store.secret_access_key, wrong_secret):
        assert secret not in body
        for run in (stored, checked, failed):
            assert_no_leak(run, secret, tmp_path)
