"""One validation layer for the input every door receives: ids, numbers, dates, JSON, size.

Everything here is strict and bounded, so odd input becomes a 4xx with a Dutch message instead
of an exception deep in the database driver or the JSON parser:

- ids in routes: `DatabaseIdConverter` replaces Flask's `int` converter (registered in
  `create_app()`); it takes 1 to 10 ASCII digits up to the columns' range (INTEGER, 2^31-1),
  so `/actions/9223372036854775808` or `/actions/²` is a 404, not a 500;
- ids and numbers in forms and query strings: `parse_int` (ASCII digits only: `²` passes
  `str.isdigit()` but not `int()`), `parse_id`;
- dates: `parse_date` (ISO, between `EARLIEST_DATE` and `LATEST_DATE`);
- JSON bodies: `load_json` refuses bodies over `MAX_JSON_BYTES`, nesting over `MAX_JSON_DEPTH`
  and integers over `MAX_JSON_INT_DIGITS` digits before Python's parser sees them;
- request size: `MAX_CONTENT_LENGTH` (werkzeug answers 413 before a form is parsed).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from werkzeug.routing import IntegerConverter

# Primary keys are INTEGER columns: 32-bit signed on PostgreSQL.
DB_INT_MAX = 2**31 - 1
# The whole request; nothing the platform takes over HTTP comes near it.
MAX_CONTENT_LENGTH = 1024 * 1024
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20
MAX_JSON_INT_DIGITS = 18
# Dates outside this range are typing errors (and 9999-12-31 + 1 day overflows).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)

MAX_HOUSE_NUMBER = 99999
HOUSE_NUMBER_MESSAGE = "Vul een huisnummer in (alleen cijfers, 1 tot 99999)."

_ASCII_INT = re.compile(r"[0-9]{1,18}")
_ASCII_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InvalidInput(ValueError):
    """Input refused by this layer; the message is Dutch and may be shown as is."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class DatabaseIdConverter(IntegerConverter):
    """Flask's `int` converter, bounded to what an id column holds (1 .. 2^31-1)."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = DB_INT_MAX):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def parse_int(raw: object, *, minimum: int = 0, maximum: int = DB_INT_MAX) -> int | None:
    """A whole number written in ASCII digits, within [minimum, maximum]; else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip() if isinstance(raw, str) else ""
        if not _ASCII_INT.fullmatch(text):
            return None
        value = int(text)
    return value if minimum <= value <= maximum else None


def parse_decimal(raw: object, *, max_chars: int = 20) -> float | None:
    """A decimal number in ASCII digits, comma or point as separator (`0,5`); else None."""
    text = raw.strip().replace(",", ".") if isinstance(raw, str) else ""
    if len(text) > max_chars or not _ASCII_DECIMAL.fullmatch(text):
        return None
    return float(text)


def parse_id(raw: object) -> int | None:
    """A database id (1 .. 2^31-1) from a form field or query string; else None."""
    return parse_int(raw, minimum=1, maximum=DB_INT_MAX)


def parse_date(raw: object, *, earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE) -> date | None:
    """An ISO date (jjjj-mm-dd) between earliest and latest; else None."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        return None
    return value if earliest <= value <= latest else None


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True if arrays/objects nest deeper than max_depth (brackets inside strings ignored)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise InvalidInput(f"Getal te lang: hooguit {MAX_JSON_INT_DIGITS} cijfers.", 422)
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidInput("Getal buiten bereik.", 422)
    return value


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"Ongeldige waarde in JSON: {name}.", 400)


def load_json(data: bytes) -> Any:
    """Parse a JSON body within the limits above; raises InvalidInput with a Dutch message."""
    if len(data) > MAX_JSON_BYTES:
        raise InvalidInput(f"De JSON-body is te groot (hooguit {MAX_JSON_BYTES // 1024} kB).", 413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("De JSON-body is geen geldige UTF-8-tekst.") from None
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise InvalidInput(f"De JSON-body is te diep genest (hooguit {MAX_JSON_DEPTH} niveaus).")
    try:
        return json.loads(
            text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as error:
        if isinstance(error, InvalidInput):
            raise
        raise InvalidInput("De body is geen geldige JSON.") from None
