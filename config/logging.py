"""Structured logs (event name + fields) with phone numbers masked.

Two formats, chosen by `BURGERNET_OPS__LOG_FORMAT`: `plain` (`time level logger event key=value`)
and `json` (one object per line: `ts`, `level`, `logger`, `event` and the event's fields, or
`message` for a log line that is not an event; `exc` for a traceback). Both mask phone numbers:
`log_event` masks every field, and the JSON formatter masks messages and tracebacks as well.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from config.settings import get_settings

# A phone number: 9 to 15 digits (E.164's most), optionally after "+", with single spaces or
# dashes between digits. Not a run of digits inside a longer one, a decimal or an Asterisk
# uniqueid ("1732860000.123"), a clock time, or a date ("2026-11-29 07:12"): masking those
# made logs lose their timestamps and call ids.
_PHONE = re.compile(r"(?<![\d.\-])(?!\d{4}-\d{2}-\d{2})\+?\d(?:[ -]?\d){8,14}(?!\d|[.:]\d)")


def mask_phone(number: str | None) -> str:
    """+31612345678 -> +316****5678, 0612345678 -> 06****5678: enough to tell numbers apart,
    not enough to call one. At least four digits stay hidden, whatever the format: the
    national prefix shows one digit less than the international one, so a number shows the
    same digits either way."""
    if not number:
        return ""
    text = number.strip()
    if len(text) <= 6:
        return "*" * len(text)
    head = 4 if text.startswith("+") else 2
    tail = max(0, min(4, len(text) - head - 4))
    return text[:head] + "****" + (text[-tail:] if tail else "")


def mask_phones_in(text: str) -> str:
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group(0))), text)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields) -> None:
    """Log one event as `event key=value ...`; any phone number in a value is masked."""
    parts = [event]
    masked: dict[str, object] = {}
    for key, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={mask_phones_in(text)}")
        masked[key] = _masked_value(value)
    logger.log(level, " ".join(parts), extra={"burgernet_event": event, "burgernet_fields": masked})


def _masked_value(value: object) -> object:
    """A field for the JSON format: numbers and booleans as they are, anything else masked text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return mask_phones_in(text)


RESERVED = ("ts", "level", "logger", "event", "message", "exc")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, phone numbers masked (also in messages not made by log_event)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        event = getattr(record, "burgernet_event", None)
        if event:
            entry["event"] = event
            for key, value in getattr(record, "burgernet_fields", {}).items():
                entry[f"field_{key}" if key in RESERVED else key] = value
        else:
            entry["message"] = mask_phones_in(record.getMessage())
        if record.exc_info:
            entry["exc"] = mask_phones_in(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int | str | None = None, fmt: str | None = None) -> None:
    """Set up the root logger once per process; format and level from `ops` settings unless given."""
    ops = get_settings().ops if level is None or fmt is None else None
    fmt = fmt or (ops.log_format if ops else "plain")
    level = level if level is not None else (ops.log_level.upper() if ops else logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "burgernet", False):
            root.removeHandler(old)
    handler.burgernet = True  # type: ignore[attr-defined]
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(level)
