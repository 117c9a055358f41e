"""What an input record asks for, checked and normalised before anything is looked up or sent."""

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

from destination_contacts.phones import to_e164
from destination_contacts.report import Rejected

# The contact fields the API documents as writable, and the JSON type each must have. Anything else in a record
# (server fields such as createdAt, webhook-only fields such as channel) is not sent: there is no documented way to set it.
WRITABLE = {"name": str, "phoneNumber": str, "stage": str, "notes": str, "location": dict, "customFields": dict}
TYPE_NAMES = {str: "a string", dict: "an object"}

# Modes that may create a contact need what a create needs.
CREATING_MODES = ("append", "append_dedup", "overwrite")


@dataclass(frozen=True)
class ContactRecord:
    """One `contacts` record: how to find the contact, and what it should look like. Null counts as not given
    (the CDK drops top-level nulls from source records anyway), so a null never clears a field."""

    id: Optional[str]
    phone: Optional[str]  # E.164
    fields: Mapping[str, Any]  # writable fields given; phoneNumber already in E.164
    tags: Optional[Tuple[str, ...]]  # None: the record says nothing about tags
    ignored: Tuple[str, ...] = field(default=())  # field names present but not writable


@dataclass(frozen=True)
class TagRecord:
    """One `contact_tags` row: a contact (by id or phone) and one tag."""

    id: Optional[str]
    phone: Optional[str]
    tag: str


def contact_record(data: Any, mode: str, default_region: Optional[str]) -> ContactRecord:
    data = _object(data)
    contact_id = _optional_string(data, "id")
    fields = {}
    for name, kind in WRITABLE.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, kind):
            raise Rejected(f"{name} must be {TYPE_NAMES[kind]}, not {_json_type(value)}")
        fields[name] = value
    for name in ("name", "phoneNumber"):
        if name in fields and not fields[name].strip():
            raise Rejected(f"{name} is empty")
    if "location" in fields and not isinstance(fields["location"].get("id"), str):
        raise Rejected("location must be an object with a string id")
    phone = to_e164(fields["phoneNumber"], default_region) if "phoneNumber" in fields else None
    if phone:
        fields["phoneNumber"] = phone
    if mode in CREATING_MODES:
        missing = [name for name in ("name", "phoneNumber") if name not in fields]
        if missing:
            raise Rejected(f"{' and '.join(missing)} missing: {mode} may create the contact, and the API requires both")
    elif contact_id is None and phone is None:
        raise Rejected(f"neither id nor phoneNumber given: {mode} needs one to find the contact")
    # Airbyte's own columns (_airbyte_raw_id, _airbyte_extracted_at...) ride along from caches; they are not contact fields.
    ignored = tuple(sorted(name for name in data if name not in WRITABLE and name not in ("id", "tags") and not name.startswith("_airbyte_")))
    return ContactRecord(contact_id, phone, fields, _tags(data.get("tags")), ignored)


def tag_record(data: Any, default_region: Optional[str]) -> TagRecord:
    data = _object(data)
    contact_id = _optional_string(data, "contact_id")
    raw_phone = data.get("phoneNumber")
    if raw_phone is not None and not isinstance(raw_phone, str):
        raise Rejected(f"phoneNumber must be a string, not {_json_type(raw_phone)}")
    phone = to_e164(raw_phone, default_region) if raw_phone else None
    if contact_id is None and phone is None:
        raise Rejected("neither contact_id nor phoneNumber given")
    tag = data.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise Rejected(f"tag must be a non-empty string, not {_json_type(tag)}")
    return TagRecord(contact_id, phone, tag)


def _fold(name: str) -> str:
    return name.replace("_", "").lower()


# Warehouses and PyAirbyte's caches fold column names (phonenumber, PHONE_NUMBER, customfields): a key names a field
# whatever its case and underscores.
FIELD_NAMES = {_fold(name): name for name in (*WRITABLE, "id", "tags", "contact_id", "tag")}


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise Rejected(f"record data must be an object, not {_json_type(data)}")
    return {FIELD_NAMES.get(_fold(key), key): value for key, value in data.items()}


def _optional_string(data: Mapping[str, Any], name: str) -> Optional[str]:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"{name} must be a non-empty string, not {_json_type(value)}")
    return value


def _tags(value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag.strip() for tag in value):
        raise Rejected("tags must be an array of non-empty strings")
    return tuple(dict.fromkeys(value))  # once each, in the record's order


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
