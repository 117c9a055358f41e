"""Issue 5 §8, properties over many generated inputs (hypothesis)."""

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from destination_contacts.phones import to_e164
from destination_contacts.report import Rejected

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


@st.composite
def written_phone_numbers(draw):
    """A real number of some country, written as people write it: E.164, international, national (with its region), 00-prefixed."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])))
    if example is None:
        example = phonenumbers.example_number(region)
    style = draw(st.sampled_from(["e164", "international", "national", "idd"]))
    if style == "e164":
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164), None
    if style == "international":
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL), None
    if style == "national":
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL), region
    return "00" + phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[1:], "CH"


@settings(max_examples=300, deadline=None)
@given(written_phone_numbers())
def test_phone_normalisation_is_idempotent_and_format_blind(written):
    text, region = written
    try:
        e164 = to_e164(text, region)
    except Rejected:
        return  # a few example numbers are not "possible" by the library's own length rules
    assert e164.startswith("+") and e164[1:].isdigit()
    assert to_e164(e164, None) == e164  # normalising again changes nothing
    assert to_e164(e164, region) == e164  # and the default region does not matter for an E.164 number


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_is_either_normalised_or_rejected_with_a_reason(text):
    try:
        e164 = to_e164(text, "AE")
    except Rejected as rejected:
        assert str(rejected).startswith("phoneNumber ")  # a reason that names the field, never a crash
    else:
        assert to_e164(e164, None) == e164
