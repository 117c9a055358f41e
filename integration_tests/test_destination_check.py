"""destination-contacts spec and check (the shared one-request check runs for both CLIs in test_source_check.py)."""

from integration_tests.connector import API_KEY, run_connector


def test_spec_has_the_shared_connection_fields_and_the_write_options(tmp_path):
    run = run_connector("destination-contacts", "spec", tmp_path)
    [message] = run.of_type("SPEC")
    spec = message["spec"]
    assert list(spec["connectionSpecification"]["properties"]) == [
        "api_key",
        "base_url",
        "requests_per_minute",
        "max_retry_wait_seconds",
        "tag_mode",
        "default_region",
        "max_rejected_records",
        "rejected_records_path",
        "dry_run",
        "max_workers",
        "delete_absent_contacts",
        "recreate_deleted_contacts",
    ]
    assert spec["supported_destination_sync_modes"] == ["append", "append_dedup", "update", "soft_delete", "overwrite"]


def test_check_refuses_plain_http_to_a_remote_host_and_an_unknown_region(tmp_path):
    run = run_connector("destination-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": "http://api.whautomate.com"})
    assert run.status["status"] == "FAILED" and "plain http to a remote host" in run.status["message"]
    run = run_connector(
        "destination-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": "http://127.0.0.1:1", "default_region": "XX"}
    )
    assert run.status["status"] == "FAILED" and "default_region 'XX'" in run.status["message"]
