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
        "object_storage_config",
    ]
    assert spec["supported_destination_sync_modes"] == ["append", "append_dedup", "update", "soft_delete", "overwrite"]


def test_check_refuses_plain_http_to_a_remote_host_and_an_unknown_region(tmp_path):
    run = run_connector("destination-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": "http://api.whautomate.com"})
    assert run.status["status"] == "FAILED" and "plain http to a remote host" in run.status["message"]
    run = run_connector(
        "destination-contacts", "check", tmp_path, {"api_key": API_KEY, "base_url": "http://127.0.0.1:1", "default_region": "XX"}
    )
    assert run.status["status"] == "FAILED" and "default_region 'XX'" in run.status["message"]


def test_object_storage_config_has_the_shape_airbytes_data_activation_destinations_share(tmp_path):
    """The Kotlin bulk CDK's ObjectStorageSpec (load-dlq), whose field the platform reads for its rejected-records link
    (ConnectorObjectStorageService): the same names, one choice per storage_type, the credentials secret."""
    [message] = run_connector("destination-contacts", "spec", tmp_path).of_type("SPEC")
    storage = message["spec"]["connectionSpecification"]["properties"]["object_storage_config"]
    none, s3 = storage["oneOf"]
    assert (none["title"], none["required"], none["properties"]) == (
        "None",
        ["storage_type"],
        {"storage_type": {"type": "string", "enum": ["None"], "default": "None"}},
    )
    assert (s3["title"], s3["properties"]["storage_type"]) == ("S3", {"type": "string", "enum": ["S3"], "default": "S3"})
    assert list(s3["properties"]) == [
        "storage_type",
        "access_key_id",
        "secret_access_key",
        "s3_bucket_name",
        "s3_bucket_region",
        "s3_endpoint",
        "bucket_path",
    ]
    assert [name for name, field in s3["properties"].items() if field.get("airbyte_secret")] == ["access_key_id", "secret_access_key"]
    assert s3["required"] == ["storage_type", "s3_bucket_name", "s3_bucket_region", "bucket_path"]
    assert s3["properties"]["s3_bucket_region"]["default"] == "" and "" in s3["properties"]["s3_bucket_region"]["enum"]
