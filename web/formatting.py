"""The template filters that write moments and dates (config.local_time), for every page.

`{{ moment|localtime }}` writes a stored UTC moment in the control room's time zone
(settings.timezone): "05-12-2026 21:03:07"; a style picks a shorter form
(`|localtime('datetime')`, `'time'`, `'date'`). `{{ day|localdate }}` writes a calendar date
that is already local (a date a person picked). No template calls strftime itself.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint

from config.local_time import format_date, format_moment
from web.runtime import current_settings

bp = Blueprint("formatting", __name__)


def local_text(moment: datetime | None, style: str = "datetime_seconds") -> str:
    """A stored UTC moment in the control room's local time, as every page writes it."""
    return format_moment(moment, current_settings().timezone, style)


@bp.app_template_filter("localtime")
def localtime(moment: datetime | None, style: str = "datetime_seconds") -> str:
    return local_text(moment, style)


@bp.app_template_filter("localdate")
def localdate(value: date | datetime | None) -> str:
    """A moment's local date, or a calendar date as it is."""
    if isinstance(value, datetime):
        return local_text(value, "date")
    return format_date(value)


@bp.app_context_processor
def _time_zone() -> dict:
    """The zone the browser scripts write times in (base.html's data-timezone)."""
    return {"display_timezone": current_settings().timezone}
