"""Issue 5 §6: the API key never appears in stdout, stderr or any file a connector writes, whatever happens: 5xx
retries whose bodies echo the request headers (JSON and HTML), 401s, errors the API explains with the headers in the
body, check failures, dry runs, rejected records (log and file), failed syncs. Both connectors."""

import json

import pytest

from integration_tests.connector import catalog as source_catalog
from integration_tests.connector import run_connector
from integration_tests.sandbox import ApiError, SandboxAPI

KEY = "sk-live-9d2f7c41e8a5b3"


class ExplainingSandbox(SandboxAPI):
    """Echoes request headers (x-api-key included) in every error body; also refuses, with such a body, a write whose
    stage is "Refused" (a 422 the destination turns into a rejection) and a list with locationId "bad" (a 400 that
    fails a source sync)."""

    def __init__(self, **options):
        super().__init__(api_key=KEY, echo_headers_in_errors=True, **options)

    def _route(self, method, path, query, body, body_ok):
        if method in ("POST", "PUT") and isinstance(body, dict) and body.get("stage") == "Refused":
            raise ApiError(422, "stage is not one of the account's stages")
        if method == "GET" and query.get("locationId") == "bad":
            raise ApiError(400, "unknown locationId")
        return super()._route(method, path, query, body, body_ok)


@pytest.fixture
def sandbox():
    started = []

    def start(**options):
        api = ExplainingSandbox(**options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


def assert_no_leak(run, tmp_path, key=KEY):
    assert key not in run.stdout, "key in stdout"
    assert key not in run.stderr, "key in stderr"
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "config.json":  # the config is the connector's input, not its output
            assert key not in path.read_text(errors="replace"), f"key in {path.name}"


def record(data, stream="contacts"):
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "emitted_at": 1, "data": data}}) + "\n"


DESTINATION_CATALOG = {"streams": [{"stream": {"name": "contacts", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                                    "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup"}]}
RECORDS = "".join([record({"name": f"C{n}", "phoneNumber": f"+9715012{n:05d}", "tags": ["t"]}) for n in range(12)]
                  + [record({"name": "Refused", "phoneNumber": "+971509999999", "stage": "Refused"}), "not json\n",
                     record({"name": "Bad phone", "phoneNumber": "12"})])


def destination_config(api, **options):
    return {"api_key": KEY, "base_url": api.url, "requests_per_minute": 10_000, **options}


SCENARIOS = {
    # name: (sandbox options, config options, expected exit code)
    "5xx and drops, retried; rejections in the log and the file": (
        {"error_rate": 0.15, "drop_rate": 0.03, "drop_after_write_rate": 0.03, "fault_seed": 4},
        {"max_rejected_records": 10}, 0),
    "dry run under 5xx": ({"error_rate": 0.3, "fault_seed": 2}, {"dry_run": True, "max_rejected_records": 10}, 0),
    "too many rejections: the sync fails quoting the first": ({}, {"max_rejected_records": 0}, 1),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_destination_write_never_shows_the_key(name, sandbox, tmp_path):
    options, config, exit_code = SCENARIOS[name]
    api = sandbox(**options)
    run = run_connector("destination-contacts", "write", tmp_path,
                        destination_config(api, rejected_records_path=str(tmp_path / "rejected.jsonl"), **config), DESTINATION_CATALOG, stdin=RECORDS)
    assert run.returncode == exit_code, run.stderr[-2000:]
    rejected = (tmp_path / "rejected.jsonl").read_text()
    assert "stage is not one of the account's stages" in rejected or config.get("dry_run")  # the API's explanation, key masked
    assert_no_leak(run, tmp_path)


def test_destination_rejected_key_and_failed_check_never_show_it(sandbox, tmp_path):
    api = sandbox()
    wrong = "sk-live-wrong-5e6f7a8b9c"
    for verb in ("check", "write"):
        run = run_connector("destination-contacts", verb, tmp_path, {**destination_config(api), "api_key": wrong},
                            DESTINATION_CATALOG if verb == "write" else None, stdin=RECORDS if verb == "write" else None)
        assert "HTTP 401" in run.stdout
        assert_no_leak(run, tmp_path, key=wrong)
    failing = sandbox(error_rate=1.0)
    run = run_connector("destination-contacts", "check", tmp_path, destination_config(failing))
    [status] = run.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert_no_leak(run, tmp_path)


def test_source_read_and_check_never_show_the_key(sandbox, tmp_path):
    api = sandbox(contacts=30, error_rate=0.2, drop_rate=0.05, fault_seed=3)
    run = run_connector("source-contacts", "read", tmp_path, {"api_key": KEY, "base_url": api.url, "page_size": 10, "requests_per_minute": 10_000},
                        source_catalog("contacts", "contact_tags"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records["contacts"]) == 30
    assert_no_leak(run, tmp_path)

    run = run_connector("source-contacts", "read", tmp_path, {"api_key": KEY, "base_url": api.url, "location_id": "bad"}, source_catalog("contacts"))
    assert run.returncode != 0 and "unknown locationId" in run.errors[0]["message"]  # the server's body, quoted with the key masked
    assert_no_leak(run, tmp_path)

    wrong = "sk-live-wrong-0a1b2c3d4e"
    for verb in ("check", "read"):
        run = run_connector("source-contacts", verb, tmp_path, {"api_key": wrong, "base_url": api.url},
                            source_catalog("contacts") if verb == "read" else None)
        assert "HTTP 401" in run.stdout
        assert_no_leak(run, tmp_path, key=wrong)

    failing = sandbox(error_rate=1.0)
    run = run_connector("source-contacts", "check", tmp_path, {"api_key": KEY, "base_url": failing.url})
    [status] = run.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert_no_leak(run, tmp_path)
