"""What an input record asks for, checked and normalised before anything is looked up or sent; phone numbers as the
match key (every form of one number becomes the same E.164 string)."""

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple

import phonenumbers

from contacts_api.http import path_segment
from destination_contacts.report import Rejected

# The contact fields the API documents as writable, and the JSON type each must have. Anything else in a record
# (server fields such as createdAt, webhook-only fields such as channel) is not sent: there is no documented way to set it.
WRITABLE = {"name": str, "phoneNumber": str, "stage": str, "notes": str, "location": dict, "customFields": dict}
TYPE_NAMES = {str: "a string", dict: "an object"}
# A number written without +country code can only be read with a default country, which is config, not data.
NEEDS_REGION = "phone_needs_default_region"
# Digits split by something else ('+971 50 123 4567', '(050) 123-4567'): no search for a run of digits matches them.
SEPARATED = re.compile(r"\d\D+\d")


@dataclass(frozen=True)
class ContactRecord:
    """One `contacts` record: how to find the contact, and what it should look like. Null counts as not given, so a
    null never clears a field."""

    id: Optional[str]
    phone: Optional[str]  # E.164
    fields: Mapping[str, Any]  # writable fields given; phoneNumber already in E.164
    tags: Optional[Tuple[str, ...]]  # None: the record says nothing about tags
    ignored: Tuple[str, ...] = field(default=())  # field names present but not writable

    @property
    def can_create(self) -> bool:
        return "name" in self.fields and "phoneNumber" in self.fields


@dataclass(frozen=True)
class TagRecord:
    """One `contact_tags` row: a contact (by id or phone) and one tag."""

    id: Optional[str]
    phone: Optional[str]
    tag: str


def contact_record(data: Any, default_region: Optional[str]) -> ContactRecord:
    """Types and formats; which fields an operation needs is said in modes.py."""
    data = _object(data)
    contact_id = _contact_id(data, "id")
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
    # Airbyte's own columns (_airbyte_raw_id, _airbyte_extracted_at...) ride along from caches; they are not contact fields.
    ignored = tuple(
        sorted(name for name in data if name not in WRITABLE and name not in ("id", "tags") and not name.startswith("_airbyte_"))
    )
    return ContactRecord(contact_id, phone, fields, _tags(data.get("tags")), ignored)


def tag_record(data: Any, default_region: Optional[str]) -> TagRecord:
    data = _object(data)
    contact_id = _contact_id(data, "contact_id")
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


def to_e164(raw: str, default_region: Optional[str]) -> str:
    """`+971 50 123 4567`, `00971501234567` and (with region AE) `050 123 4567` all give `+971501234567`.

    "Possible" (the right length for its country), not "valid": numbering plans change faster than the metadata, and
    the API accepts any string, so only numbers that cannot be a phone number are turned away. A number with an
    extension is turned away too: E.164 has no room for it, and dropping it would write another number.
    Reasons never quote the number: they go to the log.
    """
    text = raw.strip()
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and not region and not text.startswith("+"):
            raise Rejected("phoneNumber has no +country code and default_region is not set", NEEDS_REGION) from None
        raise Rejected(f"phoneNumber is not a phone number ({_PARSE_ERRORS.get(error.error_type, 'unreadable')})") from None
    if number.extension:
        raise Rejected("phoneNumber has an extension (ext., x, ;ext=): the API stores numbers in E.164, which cannot hold one")
    if not phonenumbers.is_possible_number(number):
        raise Rejected("phoneNumber has the wrong number of digits for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(raw: object, default_region: Optional[str]) -> Optional[str]:
    """For contacts already in the account: an unreadable stored number just cannot be matched by phone."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return to_e164(raw, default_region)
    except Rejected:
        return None


def national_number(e164: str) -> str:
    """The digits after the country code: the part of a number that every way of storing it spells out in full."""
    return str(phonenumbers.parse(e164).national_number)


def spelled_like(e164: str, example: str, example_e164: str) -> Optional[str]:
    """`e164` written digit for digit the way `example` writes `example_e164`: '+971 50 123 4567' (+971501234567)
    gives '+971 50 999 1234' for +971509991234, '050-123-4567' gives '050-999-1234'. None for a number of another
    country or length, which that spelling does not fit."""
    number, model = phonenumbers.parse(e164), phonenumbers.parse(example_e164)
    if (number.country_code, len(e164)) != (model.country_code, len(example_e164)):
        return None
    written = "".join(char for char in example if char.isdecimal())
    # The written digits end with the number's own; what comes before them (a country code, a trunk 0) stays as written.
    shared = len(os.path.commonprefix([written[::-1], example_e164[:0:-1]]))
    if shared < len(str(model.national_number)):
        return None  # the example does not spell out its number's digits in order
    digits = iter(written[: len(written) - shared] + e164[len(e164) - shared :])
    return "".join(next(digits) if char.isdecimal() else char for char in example)


def is_region(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def fold(name: str) -> str:
    return "".join(character for character in name.lower() if character.isalnum())


# Warehouses and PyAirbyte's caches fold column names (phonenumber, PHONE_NUMBER, customfields): a key names a field
# whatever its case and underscores.
FIELD_NAMES = {fold(name): name for name in (*WRITABLE, "id", "tags", "contact_id", "tag")}


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise Rejected(f"record data must be an object, not {_json_type(data)}")
    return {FIELD_NAMES.get(fold(key), key): value for key, value in data.items()}


def _contact_id(data: Mapping[str, Any], name: str) -> Optional[str]:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"{name} must be a non-empty string, not {_json_type(value)}")
    try:
        path_segment(value)
    except ValueError:
        raise Rejected(f"{name} '{value}' cannot be a contact id: it would name another path of the API") from None
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
