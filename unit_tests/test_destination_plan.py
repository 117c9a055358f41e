"""The pure parts of destination-contacts: phone normalisation, record validation, what each mode needs, and the diff
into API calls."""

import pytest

from destination_contacts.modes import CONTACTS, OPERATIONS, Route
from destination_contacts.plan import E164, Change, contact_change, delete_change, tags_change
from destination_contacts.records import NEEDS_REGION, contact_record, tag_record, to_e164
from destination_contacts.report import Rejected

E = "+971501234567"


@pytest.mark.parametrize(
    "raw, region",
    [
        ("+971501234567", None),
        ("+971 50 123 4567", None),
        ("+971-50-123-4567", None),
        ("00971501234567", "AE"),
        ("050 123 4567", "AE"),
        ("0501234567", "ae"),
        (" +971 (50) 123-4567 ", "IN"),
    ],
)
def test_every_spelling_of_one_number_is_one_e164(raw, region):
    assert to_e164(raw, region) == E


def test_local_numbers_read_with_the_default_region():
    assert to_e164("020 7946 0018", "GB") == "+442079460018"
    assert to_e164("98765 43210", "IN") == "+919876543210"


@pytest.mark.parametrize(
    "raw, region, reason, hint",
    [
        ("0501234567", None, "phoneNumber has no +country code and default_region is not set", NEEDS_REGION),
        ("call me", "AE", "phoneNumber is not a phone number (not a number)", None),
        ("+971 12", None, "phoneNumber has the wrong number of digits for its country", None),
        ("+999 1234567", None, "phoneNumber is not a phone number (unknown country code)", None),
    ],
)
def test_unreadable_numbers_are_rejected_without_quoting_them(raw, region, reason, hint):
    with pytest.raises(Rejected) as caught:
        to_e164(raw, region)
    assert (caught.value.reason, caught.value.config_hint) == (reason, hint)


def test_contact_record_keeps_writable_fields_and_names_the_rest():
    record = contact_record(
        {
            "id": "c1",
            "name": "Zoë",
            "phoneNumber": "050 123 4567",
            "notes": None,
            "stage": "Lead",
            "tags": ["a", "b", "a"],
            "createdAt": "x",
            "channel": "Whatsapp",
        },
        "AE",
    )
    assert record.id == "c1" and record.phone == E
    assert record.fields == {"name": "Zoë", "phoneNumber": E, "stage": "Lead"}  # null notes: not given
    assert record.tags == ("a", "b")
    assert record.ignored == ("channel", "createdAt")


@pytest.mark.parametrize(
    "data, mode, reason",
    [
        ({"phoneNumber": E}, "append", "name missing: append may create the contact, and the API requires both"),
        ({"name": " ", "phoneNumber": E}, "append", "name is empty"),
        ({"name": "x"}, "update", "id or phoneNumber missing: it says which contact this record is"),
        ({"id": "."}, "soft_delete", "id '.' cannot be a contact id: it would name another path of the API"),
        (
            {"name": "x", "phoneNumber": E + " ext. 7"},
            "append",
            "phoneNumber has an extension (ext., x, ;ext=): the API stores numbers in E.164, which cannot hold one",
        ),
        ({"id": 3}, "soft_delete", "id must be a non-empty string, not a number"),
        ({"name": "x", "phoneNumber": E, "tags": "a"}, "append", "tags must be an array of non-empty strings"),
        ({"name": "x", "phoneNumber": E, "location": {"title": "Dubai"}}, "append", "location must be an object with a string id"),
        ({"name": "x", "phoneNumber": E, "customFields": [1]}, "append", "customFields must be an object, not an array"),
        ({"name": True, "phoneNumber": E}, "append", "name must be a string, not a boolean"),
        ("text", "append", "record data must be an object, not a string"),
    ],
)
def test_bad_contact_records(data, mode, reason):
    with pytest.raises(Rejected) as caught:
        checked(data, mode)
    assert caught.value.reason == reason


def checked(data, mode, match_by=("id", "phone")):
    """A contacts record as the write loop checks it: its fields, then what its mode (modes.py) needs."""
    record = contact_record(data, None)
    Route((None, "contacts"), CONTACTS, mode, OPERATIONS[(CONTACTS, mode)], match_by).check(record)
    return record


def test_update_and_delete_need_only_a_key():
    assert checked({"phoneNumber": E, "stage": "Lead"}, "update").fields == {"phoneNumber": E, "stage": "Lead"}
    assert checked({"id": "c1"}, "soft_delete").id == "c1"
    assert checked({"id": "c1", "stage": "Lead"}, "update", match_by=("id",)).id == "c1"
    with pytest.raises(Rejected, match="^id missing: it says which contact this record is$"):
        checked({"phoneNumber": E, "stage": "Lead"}, "update", match_by=("id",))  # a data-activation stream that matches by id


def test_tag_rows():
    assert tag_record({"phoneNumber": "050 123 4567", "tag": "VIP"}, "AE") == tag_record({"phoneNumber": E, "tag": "VIP"}, None)
    with pytest.raises(Rejected, match="neither contact_id nor phoneNumber"):
        tag_record({"tag": "VIP"}, None)
    with pytest.raises(Rejected, match="tag must be a non-empty string, not a number"):
        tag_record({"contact_id": "c1", "tag": 5}, None)


CURRENT = {
    "id": "c1",
    "name": "Zoë",
    "phoneNumber": "+971 50 123 4567",
    E164: E,
    "stage": "Lead",
    "location": {"id": "loc1", "title": "Dubai Mall"},
    "customFields": {"score": 1},
    "tags": ["a", "b"],
}


def wanted(**fields):
    tags = fields.pop("tags", None)
    return contact_record({"name": "Zoë", "phoneNumber": E, **fields, **({"tags": tags} if tags is not None else {})}, None)


def test_a_record_equal_to_the_contact_is_no_change():
    change = contact_change(CURRENT, wanted(stage="Lead", location={"id": "loc1"}, customFields={"score": 1}, tags=["b"]), "add")
    assert change.empty and change == Change("c1")


def test_field_changes_are_one_put_with_name_and_phone_as_stored():
    change = contact_change(CURRENT, wanted(stage="Customer", notes="hi"), "add")
    assert change == Change(
        "c1", body={"name": "Zoë", "phoneNumber": "+971 50 123 4567", "stage": "Customer", "notes": "hi"}, changed_fields=("notes", "stage")
    )
    assert change.describe() == {"action": "update", "contact_id": "c1", "fields": ["notes", "stage"]}


def test_a_new_phone_or_name_is_sent():
    change = contact_change(CURRENT, contact_record({"name": "Zoë M", "phoneNumber": "+971501234568"}, None), "add")
    assert change.body == {"name": "Zoë M", "phoneNumber": "+971501234568"}


def test_other_location_and_custom_fields_are_changes():
    change = contact_change(CURRENT, wanted(location={"id": "loc2"}, customFields={"score": 2}), "add")
    assert change.changed_fields == ("customFields", "location")


def test_tags_add_only_the_missing_and_sync_removes_the_unlisted():
    assert contact_change(CURRENT, wanted(tags=["c", "a", "d"]), "add") == Change("c1", add_tags=("c", "d"))
    assert contact_change(CURRENT, wanted(tags=["c", "a"]), "sync") == Change("c1", add_tags=("c",), remove_tags=("b",))
    assert contact_change(CURRENT, wanted(tags=[]), "sync") == Change("c1", remove_tags=("a", "b"))
    assert contact_change(CURRENT, wanted(), "sync").empty  # no tags field: tags are not the record's business


def test_a_new_contact_is_a_post_without_tags_then_one_tag_call():
    change = contact_change(None, wanted(stage="Lead", tags=["x", "y"]), "sync")
    assert change == Change(None, body={"name": "Zoë", "phoneNumber": E, "stage": "Lead"}, add_tags=("x", "y"))
    assert "tags" not in change.body and change.creates


def test_delete_and_tag_rows():
    assert delete_change(CURRENT) == Change("c1", delete=True)
    assert tags_change(CURRENT, {"c": True}) == Change("c1", add_tags=("c",))
    assert tags_change(CURRENT, {"a": True}).empty
    assert tags_change(CURRENT, {"a": False}) == Change("c1", remove_tags=("a",))
    assert tags_change(CURRENT, {"z": False}).empty
