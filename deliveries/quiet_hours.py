"""Quiet hours: no voice calls in a local-time window, unless the incident type is urgent.

Pure functions. A control room's own window (ControlRoom.quiet_hours_start/_end, "HH:MM")
overrides the global setting; a window whose end lies before its start runs past midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import Settings
from db.models import ControlRoom


@dataclass(frozen=True)
class QuietWindow:
    start: time
    end: time
    tz: ZoneInfo

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(self.tz).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, at: datetime) -> datetime:
        """The first moment after `at` when the window is over (UTC)."""
        local = at.astimezone(self.tz)
        end = datetime.combine(local.date(), self.end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.tz)
        return end.astimezone(UTC)


def parse_hhmm(value: str) -> time:
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"quiet hours must be HH:MM, got {value!r}") from exc


def quiet_window(control_room: ControlRoom | None, settings: Settings) -> QuietWindow | None:
    """The window that applies to a control room, or None when it has none."""
    tz = ZoneInfo(settings.timezone)
    if control_room is not None and control_room.quiet_hours_start and control_room.quiet_hours_end:
        return QuietWindow(
            parse_hhmm(control_room.quiet_hours_start), parse_hhmm(control_room.quiet_hours_end), tz
        )
    if settings.quiet_hours_start is None or settings.quiet_hours_end is None:
        return None
    return QuietWindow(settings.quiet_hours_start, settings.quiet_hours_end, tz)


def held_until(window: QuietWindow | None, urgent: bool, at: datetime) -> datetime | None:
    """When voice calls may go out again, or None if they may go out now."""
    if urgent or window is None or not window.contains(at):
        return None
    return window.ends_after(at)
