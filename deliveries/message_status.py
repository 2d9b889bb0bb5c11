"""Twilio's delivery reports for SMS, applied to the delivery rows.

Twilio reports queued, accepted, sending, sent, delivered, undelivered, failed (and read).
Each report moves the row forward through the dialer's state machine (deliveries/states.py):
sending -> sent -> delivered, or sending/sent -> failed (a report may overtake the worker that
is still recording the hand-over). A report that would move the row nowhere new (a repeat, or a
late "sent" after "delivered") changes nothing: every report counts once, and a row that is not
with the provider (queued, held) takes none.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from config.clock import Clock
from config.logging import log_event
from db.models import Delivery, DeliveryState
from deliveries.states import is_allowed, transition

log = logging.getLogger(__name__)

S = DeliveryState

# Twilio MessageStatus -> the state it proves the message reached (None: nothing yet).
MESSAGE_STATUS_STATES: dict[str, DeliveryState | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.DELIVERED,
    "undelivered": S.FAILED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
}

# How far along a message is; a report never moves a row backwards.
_RANK = {S.SENDING: 0, S.SENT: 1, S.DELIVERED: 2, S.FAILED: 2}


class UnknownMessageStatus(ValueError):
    pass


def apply_message_status(
    session: Session,
    delivery: Delivery,
    status: str,
    clock: Clock,
    *,
    message_sid: str | None = None,
    error_code: str | None = None,
) -> bool:
    """Apply one report; returns whether the row changed."""
    if status not in MESSAGE_STATUS_STATES:
        raise UnknownMessageStatus(f"unknown Twilio MessageStatus {status!r}")
    target = MESSAGE_STATUS_STATES[status]
    current = DeliveryState(delivery.state)
    if target is None or current not in _RANK or _RANK[current] >= _RANK[target]:
        return False
    if delivery.provider_id and message_sid and delivery.provider_id != message_sid:
        log_event(
            log,
            "twilio.sms.status_for_other_message",
            logging.WARNING,
            delivery_id=delivery.id,
            message_sid=message_sid,
        )
        return False
    detail = {"message_sid": message_sid, "status": status}
    if error_code:
        detail["error_code"] = error_code
    steps = [S.SENT, target] if current is S.SENDING and target is S.DELIVERED else [target]
    for step in steps:
        if not is_allowed(delivery.channel, DeliveryState(delivery.state), step):
            return False
        transition(session, delivery, step, event=f"twilio_message_{status}", clock=clock, **detail)
    if target is S.FAILED and error_code:
        delivery.hangup_cause = f"twilio:{error_code}"
    log_event(log, "twilio.sms.status", delivery_id=delivery.id, status=status)
    return True
