"""The JSON log format: one object per line, fields kept, phone numbers masked like the plain one."""

from __future__ import annotations

import json
import logging

from config.logging import JsonFormatter, log_event


def _capture(fmt: logging.Formatter):
    records: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(fmt.format(record))

    logger = logging.getLogger(f"test.json.{id(records)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(Handler())
    return logger, records


def test_an_event_is_one_json_object_with_its_fields_and_masked_numbers():
    logger, lines = _capture(JsonFormatter())
    log_event(
        logger, "dialer.originate", number="+31612345678", attempt=2, ok=True, detail={"to": "0612345678"}
    )
    entry = json.loads(lines[0])
    assert entry["event"] == "dialer.originate" and entry["level"] == "INFO"
    assert entry["number"] == "+316****5678"
    assert entry["attempt"] == 2 and entry["ok"] is True
    assert "0612345678" not in lines[0] and "+31612345678" not in lines[0]


def test_plain_messages_and_tracebacks_are_masked_too():
    logger, lines = _capture(JsonFormatter())
    logger.warning("call to +31 6 1234 5678 failed")
    try:
        raise RuntimeError("no route to 0031612345678")
    except RuntimeError:
        logger.exception("originate")
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "call to +316****5678 failed"
    assert "0031612345678" not in second["exc"] and "RuntimeError" in second["exc"]


def test_the_plain_format_is_unchanged():
    logger, lines = _capture(logging.Formatter("%(message)s"))
    log_event(logger, "sms.sent", to="+31612345678", parts=2)
    assert lines == ["sms.sent to=+316****5678 parts=2"]


def test_a_field_named_like_a_reserved_key_does_not_overwrite_it():
    logger, lines = _capture(JsonFormatter())
    log_event(logger, "x.y", ts="yesterday", exc="none", message="hi")
    entry = json.loads(lines[0])
    assert entry["event"] == "x.y" and entry["ts"] != "yesterday" and "exc" not in entry
    assert entry["field_ts"] == "yesterday" and entry["field_exc"] == "none"
    assert entry["field_message"] == "hi"


def test_times_dates_and_call_ids_stay_readable_while_every_number_format_is_masked():
    from datetime import UTC, datetime

    from config.logging import mask_phone

    logger, lines = _capture(logging.Formatter("%(message)s"))
    at = datetime(2026, 11, 29, 7, 12, 51, 123456, tzinfo=UTC)
    log_event(logger, "call.ended", at=at, uniqueid="1732860000.123", due="2026-11-29T07:30:00", took_s=12.5)
    assert lines == [
        'call.ended at="2026-11-29 07:12:51.123456+00:00" uniqueid=1732860000.123'
        " due=2026-11-29T07:30:00 took_s=12.5"
    ]
    # The same number shows the same digits in each format, and at least four stay hidden.
    for written in ("+31612345678", "0612345678", "06-12345678", "06 1234 5678", "0031612345678"):
        log_event(logger, "sms.sent", to=written, channel=f"Local/{written}@burgernet-out")
        assert "1234" not in lines[-1] and "5678" in lines[-1], lines[-1]
    assert mask_phone("0612345678") == "06****5678" and mask_phone("+31612345678") == "+316****5678"
    assert mask_phone("+3161234") == "+316****"
