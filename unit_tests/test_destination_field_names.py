"""Warehouse and PyAirbyte cache columns come back folded (phonenumber, PHONE_NUMBER): they still name the fields."""

from destination_contacts.records import contact_record, tag_record


def test_folded_column_names_name_the_contact_fields():
    record = contact_record(
        {"ID": "c1", "name": "Zoë", "phonenumber": "+971501234567", "CUSTOM_FIELDS": {"score": 3}, "Tags": ["VIP"], "_airbyte_raw_id": "x"},
        None,
    )
    assert (record.id, record.phone, record.fields, record.tags, record.ignored) == (
        "c1",
        "+971501234567",
        {"name": "Zoë", "phoneNumber": "+971501234567", "customFields": {"score": 3}},
        ("VIP",),
        (),
    )


def test_folded_column_names_name_the_tag_row_fields():
    assert tag_record({"CONTACT_ID": "c1", "TAG": "VIP"}, None) == tag_record({"contact_id": "c1", "tag": "VIP"}, None)
