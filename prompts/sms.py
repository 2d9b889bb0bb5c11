"""SMS encoding rules: the GSM-7 alphabet, UCS-2 fallback, and segment counting.

A single GSM-7 SMS holds 160 septets (extension characters such as the euro sign take two);
a concatenated message 153 per segment. Anything outside GSM-7 forces UCS-2: 70 characters,
67 per segment. Dutch text is first transliterated where that keeps it readable (ë -> e,
typographic quotes -> plain), so one accented name does not triple the cost of a message.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_GSM7 = set(GSM7_BASIC) | set(GSM7_EXTENSION)

SINGLE_GSM7, MULTI_GSM7 = 160, 153
SINGLE_UCS2, MULTI_UCS2 = 70, 67

_TRANSLITERATION = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
        "\t": " ",
        # Letters that Unicode does not decompose into a base letter and an accent.
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ħ": "H",
        "ħ": "h",
        "ı": "i",
        "Œ": "OE",
        "œ": "oe",
        "Þ": "Th",
        "þ": "th",
        "Ð": "D",
        "ð": "d",
        "Ŋ": "N",
        "ŋ": "n",
    }
)


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(c in _GSM7 for c in text)


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 by a readable GSM-7 equivalent where one exists:
    typographic punctuation by plain, accented letters by the base letter (ë -> e, ï -> i)
    unless the accented letter is itself in GSM-7 (é, ü, ä stay). Others are left as they are."""
    text = text.translate(_TRANSLITERATION)
    out = []
    for char in text:
        if char in _GSM7:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        out.append(base if base and all(c in _GSM7 for c in base) else char)
    return "".join(out)


def sms_length(text: str) -> SmsLength:
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        segments = 1 if units <= SINGLE_GSM7 else -(-units // MULTI_GSM7)
        return SmsLength("GSM-7", units, segments)
    units = len(text.encode("utf-16-le")) // 2
    segments = 1 if units <= SINGLE_UCS2 else -(-units // MULTI_UCS2)
    return SmsLength("UCS-2", units, segments)


def fits_one_segment(text: str) -> bool:
    return sms_length(text).segments == 1
