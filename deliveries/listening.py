"""What an answered alert call really played: the message's start, the seconds heard, and
whether the participant heard none, part or all of it; and who ended the call.

The alert flow reports the message's progress (`message_started`, `message_played_to_end`,
`message_interrupted`: a key acted before its end); `deliveries.events` settles a call that
ended before the flow did (`settle_on_hangup`), from the moment the message began to the
hang-up, never from answer to hang-up: a participant gone during answering-machine detection
heard nothing. Time is the flow's progress on the provider's clock; both renderers play the
message in real time (FastAGI's STREAM FILE, Twilio's <Say>/<Play>).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from db.models import Channel, Delivery, DeliveryState, HangupBy, MessageHeard

# Less than this much of the message counts as none of it (a hang-up at the first word).
HEARD_MIN_S = 1.0


def message_started(delivery: Delivery, now: datetime) -> None:
    """The alert message begins to play (the first time on this attempt counts)."""
    if delivery.message_started_at is None:
        delivery.message_started_at = now


def message_played_to_end(delivery: Delivery, now: datetime) -> None:
    delivery.heard = MessageHeard.ALL
    if delivery.message_started_at is not None:
        delivery.listened_s = _seconds_since(delivery.message_started_at, now)


def message_interrupted(delivery: Delivery, now: datetime) -> None:
    """The message stopped before its end (a key acted, or the call ended)."""
    if delivery.heard is MessageHeard.ALL:
        return  # a repeat cut short: the first hearing was whole
    started = delivery.message_started_at
    listened = _seconds_since(started, now) if started is not None else 0.0
    delivery.listened_s = listened
    delivery.heard = MessageHeard.PART if listened >= HEARD_MIN_S else MessageHeard.NONE


def settle_on_hangup(delivery: Delivery, at: datetime) -> None:
    """An answered call ended; what the flow did not report yet is decided now."""
    if delivery.heard is None:
        message_interrupted(delivery, at)


def heard_the_message(delivery: Delivery) -> bool:
    return delivery.heard in (MessageHeard.PART, MessageHeard.ALL)


def heard_the_message_sql() -> ColumnElement[bool]:
    """SQL: the delivery got its message through: a call that played (part of) the alert
    message, or an SMS or email handed over. The figures' one definition of "reached"."""
    return or_(
        and_(Delivery.channel == Channel.VOICE, Delivery.heard.in_([MessageHeard.PART, MessageHeard.ALL])),
        and_(
            Delivery.channel != Channel.VOICE,
            Delivery.state.in_([DeliveryState.SENT, DeliveryState.DELIVERED]),
        ),
    )


def _seconds_since(start: datetime, now: datetime) -> float:
    return round(max(0.0, (now - start).total_seconds()), 1)


__all__ = [
    "HEARD_MIN_S",
    "HangupBy",
    "MessageHeard",
    "heard_the_message",
    "heard_the_message_sql",
    "message_interrupted",
    "message_played_to_end",
    "message_started",
    "settle_on_hangup",
]
