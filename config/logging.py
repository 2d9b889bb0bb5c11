"""Structured logs (event name + fields) with phone numbers masked."""

from __future__ import annotations

import json
import logging
import re

_PHONE = re.compile(r"\+?\d[\d\s-]{7,}\d")


def mask_phone(number: str | None) -> str:
    """+31612345678 -> +316****5678: enough to tell numbers apart, not enough to call one."""
    if not number:
        return ""
    digits = number.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "****" + digits[-4:]


def mask_phones_in(text: str) -> str:
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[\s-]", "", m.group(0))), text)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields) -> None:
    """Log one event as `event key=value ...`; any phone number in a value is masked."""
    parts = [event]
    for key, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={mask_phones_in(text)}")
    logger.log(level, " ".join(parts))


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
