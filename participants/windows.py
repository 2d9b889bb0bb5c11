"""Weekly time windows of an address, as written in import files and forms.

Text form: `<days> <HH:MM>-<HH:MM>`, `<days>` alone, or `<HH:MM>-<HH:MM>` alone (every day).
Days: `mon-fri`, `mon,wed,fri`, `sat-sun`, or a word: `weekdays`, `weekend`, `daily`; the Dutch
abbreviations (`ma-vr`, `za,zo`, `werkdagen`, `dagelijks`) work too. A window whose end is before
its start runs past midnight ("mon 22:00-06:00" is Monday night).

Stored form (db.models.Address): days bitmask Monday=1 ... Sunday=64 and minutes of the local day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DAY_NAMES = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "ma": 0,
    "di": 1,
    "wo": 2,
    "do": 3,
    "vr": 4,
    "za": 5,
    "zo": 6,
}
_DAY_WORDS = {
    "weekdays": 0b0011111,
    "werkdagen": 0b0011111,
    "weekend": 0b1100000,
    "daily": 0b1111111,
    "dagelijks": 0b1111111,
}
_ENGLISH = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIMES = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class InvalidTimeWindow(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.user_message = "Vul het tijdvak in als bijvoorbeeld 'ma-vr 08:00-18:00' of 'za,zo 10:00-16:00'."


@dataclass(frozen=True)
class TimeWindow:
    days: int | None  # bitmask Monday=1 ... Sunday=64; None = every day
    start_min: int | None
    end_min: int | None

    def as_text(self) -> str:
        return format_time_window(self.days, self.start_min, self.end_min)


def _parse_days(text: str) -> int:
    text = text.strip().lower()
    if text in _DAY_WORDS:
        return _DAY_WORDS[text]
    mask = 0
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip() not in _DAY_NAMES or last.strip() not in _DAY_NAMES:
                raise InvalidTimeWindow(f"unknown day range {part!r}")
            a, b = _DAY_NAMES[first.strip()], _DAY_NAMES[last.strip()]
            day = a
            while True:  # ranges may wrap: "fri-mon"
                mask |= 1 << day
                if day == b:
                    break
                day = (day + 1) % 7
        elif part in _DAY_NAMES:
            mask |= 1 << _DAY_NAMES[part]
        else:
            raise InvalidTimeWindow(f"unknown day {part!r}")
    return mask


def _minutes(hours: str, minutes: str) -> int:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return 1440
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise InvalidTimeWindow(f"not a time of day: {hours}:{minutes}")
    return h * 60 + m


def parse_time_window(text: str | None) -> TimeWindow | None:
    """ "mon-fri 08:00-18:00" -> TimeWindow(31, 480, 1080); empty -> None (always)."""
    text = (text or "").strip()
    if not text:
        return None
    days_text, times_text = text, ""
    match = re.search(r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}$", text)
    if match:
        days_text, times_text = text[: match.start()].strip(), match.group(0)
    days = _parse_days(days_text) if days_text else None
    if not times_text:
        return TimeWindow(days, None, None)
    hours = _TIMES.match(times_text)
    if hours is None:
        raise InvalidTimeWindow(f"times {times_text!r} are not HH:MM-HH:MM")
    start = _minutes(hours.group(1), hours.group(2))
    end = _minutes(hours.group(3), hours.group(4))
    if start == end:
        raise InvalidTimeWindow(f"window {times_text!r} is empty")
    if start == 1440:
        raise InvalidTimeWindow("a window cannot start at 24:00")
    return TimeWindow(days, start, end)


def format_time_window(days: int | None, start_min: int | None, end_min: int | None) -> str:
    """The stored form back as text: (31, 480, 1080) -> "mon-fri 08:00-18:00"."""
    parts = []
    if days is not None:
        names = [_ENGLISH[d] for d in range(7) if days & (1 << d)]
        if days == 0b0011111:
            parts.append("mon-fri")
        else:
            parts.append(",".join(names))
    if start_min is not None and end_min is not None:
        parts.append(f"{start_min // 60:02d}:{start_min % 60:02d}-{end_min // 60:02d}:{end_min % 60:02d}")
    return " ".join(parts)
