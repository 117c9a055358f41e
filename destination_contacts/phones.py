"""Phone numbers as the match key: every form of one number becomes the same E.164 string."""

from typing import Optional

import phonenumbers

from destination_contacts.report import Rejected

# A number written without +country code can only be read with a default country, which is config, not data.
NEEDS_REGION = "phone_needs_default_region"


def is_region(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def to_e164(raw: str, default_region: Optional[str]) -> str:
    """`+971 50 123 4567`, `00971501234567` and (with region AE) `050 123 4567` all give `+971501234567`.

    "Possible" (the right length for its country), not "valid": numbering plans change faster than the metadata, and
    the API accepts any string, so only numbers that cannot be a phone number are turned away.
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


_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
