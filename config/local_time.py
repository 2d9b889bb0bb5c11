"""The one way a moment is shown to people: in the control room's time zone, written alike
on every page, export and message.

Moments are stored and passed around as timezone-aware UTC (config.clock); only the edge that
shows one to a person turns it into local time, and it does so here. The zone is
`settings.timezone` (Europe/Amsterdam). A date that a person picked (a pause "tot 05-12-2026")
is a local calendar date: `start_of_day` gives the UTC moment it begins, and `local_date` of
that moment gives the same date back, so a confirmation and a later page say the same.

Pure functions; the zone name is passed in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

DATE = "%d-%m-%Y"  # 05-12-2026
TIME = "%H:%M"  # 21:03
TIME_SECONDS = "%H:%M:%S"
DATETIME = f"{DATE} {TIME}"  # 05-12-2026 21:03
DATETIME_SECONDS = f"{DATE} {TIME_SECONDS}"
# Exports (CSV): sortable, and read as a date and time by a Dutch spreadsheet.
EXPORT = "%Y-%m-%d %H:%M:%S"

STYLES = {
    "date": DATE,
    "time": TIME,
    "time_seconds": TIME_SECONDS,
    "datetime": DATETIME,
    "datetime_seconds": DATETIME_SECONDS,
    "export": EXPORT,
}
NOTHING = "—"


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(moment: datetime, tz: str) -> datetime:
    """The moment in zone `tz`; a naive datetime is refused (it would be read as local time)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; pass timezone-aware UTC")
    return moment.astimezone(zone(tz))


def format_moment(moment: datetime | None, tz: str, style: str = "datetime_seconds") -> str:
    """`moment` written in local time in one of STYLES (or a strftime pattern); None -> '—'."""
    if moment is None:
        return NOTHING
    pattern = style if style.startswith("%") else STYLES[style]
    return to_local(moment, tz).strftime(pattern)


def local_date(moment: datetime, tz: str) -> date:
    """The local calendar date of a moment."""
    return to_local(moment, tz).date()


def today(now: datetime, tz: str) -> date:
    return local_date(now, tz)


def format_date(day: date | None) -> str:
    """A calendar date (already local) written as on every page: 05-12-2026."""
    return NOTHING if day is None else day.strftime(DATE)


def start_of_day(day: date, tz: str) -> datetime:
    """The UTC moment local date `day` begins (00:00 in zone `tz`)."""
    return datetime.combine(day, time(0, 0), zone(tz)).astimezone(UTC)
