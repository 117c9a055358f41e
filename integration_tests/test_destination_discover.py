"""destination-contacts discover: the DESTINATION_CATALOG of the data-activation protocol, one operation per row of the
mode table (destination_contacts/modes.py), each schema requiring exactly what its operation needs."""

from integration_tests.connector import API_KEY, run_connector

CREATE = ["name", "phoneNumber"]
BY_CONTACT = [["id"], ["phoneNumber"]]
BY_ROW = [["contact_id", "tag"], ["phoneNumber", "tag"]]


def test_discover_prints_objects_modes_required_fields_and_matching_keys(tmp_path):
    run = run_connector("destination-contacts", "discover", tmp_path, {"api_key": API_KEY})
    assert run.returncode == 0, run.stderr
    [message] = run.of_type("DESTINATION_CATALOG")
    operations = message["destination_catalog"]["operations"]
    assert [(op["object_name"], op["sync_mode"], op["json_schema"]["required"], op.get("matching_keys")) for op in operations] == [
        ("contacts", "append", CREATE, None),  # insert: a 409 on an existing phone updates that contact
        ("contacts", "append_dedup", CREATE, BY_CONTACT),
        ("contacts", "overwrite", CREATE, BY_CONTACT),
        ("contacts", "update", [], BY_CONTACT),  # the key and the changed fields are enough
        ("contacts", "soft_delete", [], BY_CONTACT),
        ("contact_tags", "append", ["tag"], BY_ROW),
        ("contact_tags", "append_dedup", ["tag"], BY_ROW),
        ("contact_tags", "overwrite", ["tag"], BY_ROW),
        ("contact_tags", "soft_delete", ["tag"], BY_ROW),
    ]
    assert set(operations[0]["json_schema"]["properties"]) == {
        "id",
        "name",
        "phoneNumber",
        "stage",
        "notes",
        "location",
        "customFields",
        "tags",
    }
