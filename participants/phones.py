"""Phone numbers of participants: parse, normalise to E.164 and classify landline vs mobile.

Only numbers a person answers are accepted. Toll-free (0800), premium (0900/0906/0909 and
foreign premium), shared-cost, personal-number (084/087), pager and machine-to-machine
numbers are refused: calling them costs money, reaches nobody, or both.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from db.models import PhoneKind

_REFUSED_TYPES: dict[int, tuple[str, str]] = {
    PhoneNumberType.TOLL_FREE: ("a toll-free number", "een gratis informatienummer (0800)"),
    PhoneNumberType.PREMIUM_RATE: ("a premium-rate number", "een betaalnummer (zoals 0900)"),
    PhoneNumberType.SHARED_COST: ("a shared-cost number", "een nummer met gedeelde kosten"),
    PhoneNumberType.PERSONAL_NUMBER: ("a personal (forwarding) number", "een persoonlijk doorschakelnummer"),
    PhoneNumberType.PAGER: ("a pager number", "een semafoonnummer"),
    PhoneNumberType.VOICEMAIL: ("a voicemail access number", "een voicemailnummer"),
}

# Dutch ranges that libphonenumber files under a type we otherwise accept.
_NL_REFUSED_PREFIXES: dict[str, tuple[str, str]] = {
    "3184": ("a personal (forwarding) number", "een persoonlijk doorschakelnummer (084/087)"),
    "3187": ("a personal (forwarding) number", "een persoonlijk doorschakelnummer (084/087)"),
    "3197": ("a machine-to-machine number", "een nummer voor apparaten (097)"),
}


class InvalidPhoneNumber(ValueError):
    """A number that cannot be used to reach a participant; `user_message` is Dutch."""

    def __init__(self, message: str, user_message: str):
        super().__init__(message)
        self.user_message = user_message


@dataclass(frozen=True)
class ParsedPhone:
    e164: str
    kind: PhoneKind


def parse_participant_phone(raw: str, region: str = "NL") -> ParsedPhone:
    """Parse a number as typed by a person ("015-2158000", "+31 6 1234 5678", "0031...")."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty", "Vul een telefoonnummer in.")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(
            f"not a phone number: {raw!r} ({exc._msg})",
            "Dit is geen geldig telefoonnummer.",
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            f"not a valid phone number: {raw!r}",
            "Dit telefoonnummer bestaat niet; controleer het aantal cijfers en het netnummer.",
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number_type = phonenumbers.number_type(number)
    refused = _REFUSED_TYPES.get(number_type)
    if refused is None:
        refused = next(
            (why for prefix, why in _NL_REFUSED_PREFIXES.items() if e164.startswith("+" + prefix)),
            None,
        )
    if refused is not None:
        english, dutch = refused
        raise InvalidPhoneNumber(
            f"{e164[:4]}... is {english}; participants need a landline or mobile number",
            f"Dit is {dutch}. Geef een vast of mobiel nummer op.",
        )
    if number_type == PhoneNumberType.MOBILE:
        return ParsedPhone(e164, PhoneKind.MOBILE)
    if number_type in (
        PhoneNumberType.FIXED_LINE,
        # Cannot tell (e.g. North America): treated as landline, so it is called but never texted.
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.UAN,
    ):
        return ParsedPhone(e164, PhoneKind.LANDLINE)
    raise InvalidPhoneNumber(
        f"cannot tell what kind of number {raw!r} is",
        "Dit nummer wordt niet herkend als vast of mobiel nummer.",
    )
