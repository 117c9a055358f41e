"""Issue 5 §8, properties over many generated inputs (hypothesis)."""

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from destination_contacts.records import spelled_like, to_e164
from destination_contacts.report import Rejected


def _example_numbers():
    """The library's example mobile and fixed-line number of every region, those it calls "possible" (right length)."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
            if example is not None and phonenumbers.is_possible_number(example):
                examples.append((region, example))
    return examples


EXAMPLES = _example_numbers()


def test_the_generated_numbers_cover_nearly_every_region():
    # The "possible" filter above must not thin the strategy out (today it keeps every example of every region).
    covered = {region for region, _ in EXAMPLES}
    assert len(covered) >= 0.95 * len(phonenumbers.SUPPORTED_REGIONS), sorted(set(phonenumbers.SUPPORTED_REGIONS) - covered)


@st.composite
def written_phone_numbers(draw):
    """A possible number of some country, written as people write it: E.164, international, national (with its
    region), 00-prefixed. Gives (text, default region, the number's E.164)."""
    region, example = draw(st.sampled_from(EXAMPLES))
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    style = draw(st.sampled_from(["e164", "international", "national", "idd"]))
    if style == "e164":
        return e164, None, e164
    if style == "international":
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL), None, e164
    if style == "national":
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL), region, e164
    return "00" + e164[1:], "CH", e164


@settings(max_examples=300, deadline=None)
@given(written_phone_numbers())
def test_phone_normalisation_is_idempotent_and_format_blind(written):
    text, region, expected = written
    e164 = to_e164(text, region)  # a possible number is never rejected, however it is written
    assert e164 == expected  # every spelling of one number gives the same E.164
    assert e164.startswith("+") and e164[1:].isdigit()
    assert to_e164(e164, None) == e164  # normalising again changes nothing
    assert to_e164(e164, region) == e164  # and the default region does not matter for an E.164 number


@settings(max_examples=300, deadline=None)
@given(written_phone_numbers(), st.text(alphabet="0123456789", min_size=4, max_size=4))
def test_a_number_spelled_like_another_reads_as_itself(written, tail):
    """Another number of the same country and length, written the way an account writes one it holds (the second
    search for a number the digit search misses, account.py), is still that number."""
    text, region, example = written
    number = example[:-4] + tail
    spelled = spelled_like(number, text, example)
    if spelled is None:  # national formats that put digits out of order (Argentina's mobile 15) fit no other number
        assert not "".join(filter(str.isdigit, text)).endswith(str(phonenumbers.parse(example).national_number))
    else:
        assert spelled_like(example, text, example) == text and len(spelled) == len(text)
        assert to_e164(spelled, region) == number


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_is_either_normalised_or_rejected_with_a_reason(text):
    try:
        e164 = to_e164(text, "AE")
    except Rejected as rejected:
        assert str(rejected).startswith("phoneNumber ")  # a reason that names the field, never a crash
    else:
        assert to_e164(e164, None) == e164


# --- read by the source, written by the destination: no change ---------------------------------------------------

from destination_contacts.account import Account  # noqa: E402
from destination_contacts.modes import CONTACTS, OPERATIONS, Route  # noqa: E402
from destination_contacts.plan import contact_change, tags_change  # noqa: E402
from destination_contacts.records import contact_record, tag_record  # noqa: E402
from integration_tests.connector import as_emitted  # noqa: E402  (how the CDK writes a record: no top-level nulls)
from source_contacts.streams import Contacts, ContactTags  # noqa: E402
from unit_tests.fakes import ListingApi  # noqa: E402

SERVER_ONLY = {
    "createdAt": "2025-01-01T00:00:00.000Z",
    "updatedAt": "2025-02-01T00:00:00.000Z",
    "channel": "Whatsapp",
    "lastActivity": None,
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def account_contacts(draw):
    """A contact as the API holds it: any name, a possible number in any of the ways people store one, optional
    fields present, null or absent, unique non-blank tags, and server-only fields."""
    text, region, _ = draw(written_phone_numbers())
    if region is not None:  # a national spelling needs a default region to be read; the account stores international ones
        text = phonenumbers.format_number(phonenumbers.parse(text, region), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    # Any id but the dot segments no URL path can carry (refused with a reason: test_paths.py); the API's are hex.
    contact = {
        "id": draw(st.text(min_size=1, max_size=24).filter(lambda value: value.strip() and value not in (".", ".."))),
        "name": draw(st.text(min_size=1, max_size=20).filter(str.strip)),
        "phoneNumber": text,
        "tags": draw(st.lists(st.text(min_size=1, max_size=12).filter(str.strip), max_size=5, unique=True)),
        **SERVER_ONLY,
    }
    optional = {
        "stage": st.sampled_from(["Subscriber", "Lead", "Customer", "Churned", ""]),
        "notes": st.text(max_size=30),
        "location": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8), "title": st.text(max_size=12)}),
        "customFields": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    }
    for name, values in optional.items():
        choice = draw(st.sampled_from(["value", "null", "absent"]))
        if choice != "absent":
            contact[name] = draw(values) if choice == "value" else None
    return contact


@settings(max_examples=150, deadline=None)
@given(account_contacts(), st.sampled_from(["add", "sync"]), st.sampled_from(["append_dedup", "update", "overwrite"]))
def test_a_contact_read_by_the_source_and_written_back_changes_nothing(contact, tag_mode, mode):
    [read] = [as_emitted(r) for r in Contacts.records(None, contact)]
    wanted = contact_record(read, None)  # what the source reads is never rejected when written back
    Route((None, "contacts"), CONTACTS, mode, OPERATIONS[(CONTACTS, mode)]).check(wanted)
    account = Account(ListingApi([]), None)
    current = account.remember(contact)
    change = contact_change(current, wanted, tag_mode)
    assert change.empty, change
    assert wanted.tags == tuple(contact["tags"])  # tags round-trip, in order
    # ... and each contact_tags row of the source, written back as a row, changes nothing either.
    for row in ContactTags.records(None, contact):
        assert tags_change(current, {tag_record(as_emitted(row), None).tag: True}).empty
