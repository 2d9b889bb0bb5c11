import pytest

from db.models import PhoneKind
from participants.phones import InvalidPhoneNumber, ParsedPhone, parse_participant_phone


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("015-2158000", "+31152158000"),
        ("0343 529850", "+31343529850"),
        ("+31 70 345 6789", "+31703456789"),
        ("0031152158000", "+31152158000"),
        ("085 123 4567", "+31851234567"),  # VoIP number at home: a landline to us
    ],
)
def test_dutch_landline(raw, e164):
    assert parse_participant_phone(raw) == ParsedPhone(e164, PhoneKind.LANDLINE)


@pytest.mark.parametrize("raw", ["06 12345678", "06-1234 5678", "+31612345678", "0031 6 12345678"])
def test_dutch_mobile(raw):
    parsed = parse_participant_phone(raw)
    assert parsed.e164 == "+31612345678"
    assert parsed.kind is PhoneKind.MOBILE


@pytest.mark.parametrize(
    "raw, word",
    [
        ("0800-0011", "gratis"),
        ("0900 8844", "betaalnummer"),
        ("0909 1234567", "betaalnummer"),
        ("0906 1234", "betaalnummer"),
        ("087 1234567", "doorschakelnummer"),
        ("084 1234567", "doorschakelnummer"),
        ("066 1234567", "semafoon"),
        ("0970 12345678", "apparaten"),
        ("+44 909 8790000", "betaalnummer"),  # foreign premium
        ("+1 900 555 0100", "betaalnummer"),
        ("+33 899 123456", "betaalnummer"),
    ],
)
def test_refused_service_numbers(raw, word):
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_participant_phone(raw)
    assert word in info.value.user_message
    assert "landline or mobile" in str(info.value)


def test_foreign_numbers_are_classified():
    assert parse_participant_phone("+32 2 555 12 12") == ParsedPhone("+3225551212", PhoneKind.LANDLINE)
    assert parse_participant_phone("+49 151 23456789") == ParsedPhone("+4915123456789", PhoneKind.MOBILE)
    # North American numbers do not say whether they are mobile: called, never texted.
    assert parse_participant_phone("+1 212 555 0100").kind is PhoneKind.LANDLINE


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12", "+31 6 1234", "06123456789012", "015-21580"])
def test_garbage_is_refused_with_a_clear_message(raw):
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_participant_phone(raw)
    assert isinstance(info.value, ValueError)
    assert info.value.user_message
    assert "nummer" in info.value.user_message


def test_region_is_used_for_national_numbers():
    assert parse_participant_phone("02 555 12 12", region="BE").e164 == "+3225551212"
