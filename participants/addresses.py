"""Dutch address parts as people type them: postcodes, house numbers and additions."""

from __future__ import annotations

import re

_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s*([A-Za-z]{2})$")
# Letter combinations the post never hands out.
_UNUSED_LETTERS = {"SA", "SD", "SS"}


class InvalidAddress(ValueError):
    """An address part that cannot be right; `field` names it, `user_message` is Dutch."""

    def __init__(self, field: str, message: str, user_message: str):
        super().__init__(message)
        self.field = field
        self.user_message = user_message


def normalise_postcode(raw: str) -> str:
    """ "2611 ab" -> "2611AB"."""
    text = (raw or "").strip()
    match = _POSTCODE.match(text)
    if not match:
        raise InvalidAddress(
            "postcode",
            f"not a Dutch postcode: {raw!r} (expected four digits and two letters, e.g. 2611 AB)",
            "Vul een postcode in als 1234 AB.",
        )
    digits, letters = match.group(1), match.group(2).upper()
    if letters in _UNUSED_LETTERS:
        raise InvalidAddress(
            "postcode", f"postcode {digits}{letters} does not exist", "Deze postcode bestaat niet."
        )
    return digits + letters


def parse_house_number(raw: str | int) -> int:
    text = str(raw).strip() if raw is not None else ""
    # ASCII digits only ("²".isdigit() is True) and at most five, before int() sees them.
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not 0 < int(text) <= 99999:
        raise InvalidAddress(
            "house_number",
            f"not a house number: {raw!r} (expected a whole number from 1 to 99999)",
            "Vul een huisnummer in (alleen cijfers).",
        )
    return int(text)


def normalise_addition(*parts: str | None) -> str:
    """House letter and addition as one key: ("a", "") -> "A", ("", "-2 hg") -> "2HG"."""
    text = "".join(p or "" for p in parts)
    addition = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if len(addition) > 10:
        raise InvalidAddress(
            "house_number_addition",
            f"house number addition too long: {text!r}",
            "De toevoeging bij het huisnummer is te lang.",
        )
    return addition
