"""destination-contacts discover: the DESTINATION_CATALOG of the data-activation protocol."""

from integration_tests.connector import API_KEY, run_connector


def test_discover_prints_objects_modes_schemas_and_matching_keys(tmp_path):
    run = run_connector("destination-contacts", "discover", tmp_path, {"api_key": API_KEY})
    assert run.returncode == 0, run.stderr
    [message] = run.of_type("DESTINATION_CATALOG")
    operations = message["destination_catalog"]["operations"]
    assert [(op["object_name"], op["sync_mode"]) for op in operations] == [
        ("contacts", "append"), ("contacts", "append_dedup"), ("contacts", "update"), ("contacts", "soft_delete"), ("contacts", "overwrite"),
        ("contact_tags", "append"), ("contact_tags", "append_dedup"), ("contact_tags", "soft_delete"),
    ]
    contacts = operations[0]
    assert contacts["matching_keys"] == [["id"], ["phoneNumber"]]
    assert contacts["json_schema"]["required"] == ["name", "phoneNumber"]
    assert operations[-1]["matching_keys"] == [["contact_id", "tag"], ["phoneNumber", "tag"]]
