"""The delivery state machine: ONE table of allowed transitions and ONE function applying them.

    queued -> dialing -> ringing -> answered -> completed                (voice, a person)
    dialing/ringing/answered -> leaving_message -> machine               (voice, a machine)
    dialing/ringing -> busy | no_answer | failed | cancelled
    answered -> failed                                                   (cut before the message was heard)
    queued -> sending -> sent -> delivered                               (SMS, email)
    sending -> failed | sent -> failed
    busy | no_answer | failed | machine -> queued                        (a retry, scheduled later)
    queued -> held -> queued                                             (quiet hours)

Every state is said out loud: a call whose answering machine is still listening is
`leaving_message` (it holds its trunk channel), `machine` is the result once the message was
left; a message a worker has claimed and is handing to the provider is `sending`. No other
column qualifies a state.

Every applied transition writes a `DeliveryEvent` (the dialer's log). An illegal transition is
logged and raised as `IllegalTransition`, never applied. Nothing else in the code base sets
`Delivery.state`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from config.clock import Clock
from config.logging import log_event
from db.models import Channel, Delivery, DeliveryEvent, DeliveryState

logger = logging.getLogger(__name__)

S = DeliveryState

ALLOWED: dict[DeliveryState, set[DeliveryState]] = {
    S.QUEUED: {S.DIALING, S.SENDING, S.HELD, S.CANCELLED, S.OPTED_OUT},
    S.HELD: {S.QUEUED, S.CANCELLED, S.OPTED_OUT},
    S.DIALING: {S.RINGING, S.ANSWERED, S.LEAVING_MESSAGE, S.BUSY, S.NO_ANSWER, S.FAILED, S.CANCELLED},
    S.RINGING: {S.ANSWERED, S.LEAVING_MESSAGE, S.BUSY, S.NO_ANSWER, S.FAILED, S.CANCELLED},
    # Answering-machine detection may decide only after the line was picked up.
    # FAILED: the PBX or the IVR cut the call before the message was heard (deliveries.events).
    S.ANSWERED: {S.COMPLETED, S.LEAVING_MESSAGE, S.OPTED_OUT, S.FAILED},
    # The machine's line ends (hang-up, or the dialer gives up on it): the message was left.
    S.LEAVING_MESSAGE: {S.MACHINE},
    S.BUSY: {S.QUEUED},
    S.NO_ANSWER: {S.QUEUED},
    S.FAILED: {S.QUEUED},
    S.MACHINE: {S.QUEUED},
    S.SENDING: {S.SENT, S.FAILED},
    S.SENT: {S.DELIVERED, S.FAILED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.OPTED_OUT: set(),
    S.DELIVERED: set(),
}

VOICE_ONLY = {
    S.DIALING,
    S.RINGING,
    S.ANSWERED,
    S.LEAVING_MESSAGE,
    S.COMPLETED,
    S.BUSY,
    S.NO_ANSWER,
    S.MACHINE,
}
MESSAGE_ONLY = {S.SENDING, S.SENT, S.DELIVERED}

# A call occupies a trunk channel in these states.
IN_FLIGHT = {S.DIALING, S.RINGING, S.ANSWERED, S.LEAVING_MESSAGE}
# Claimed by a worker and not finished yet: the calls in flight and the messages being sent.
IN_PROGRESS = IN_FLIGHT | {S.SENDING}
# Final unless a retry puts the row back in the queue.
RESULT_STATES = {S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE}
TERMINAL = {state for state, targets in ALLOWED.items() if not targets}
# The participant got the message (a person, a machine, or the message provider).
REACHED = {S.ANSWERED, S.LEAVING_MESSAGE, S.COMPLETED, S.MACHINE, S.SENT, S.DELIVERED, S.OPTED_OUT}


class IllegalTransition(Exception):
    def __init__(
        self,
        delivery_id: int | None,
        from_state: DeliveryState,
        to_state: DeliveryState,
        channel: Channel | None = None,
    ):
        self.delivery_id = delivery_id
        self.from_state = from_state
        self.to_state = to_state
        where = f" on the {channel.value} channel" if channel else ""
        super().__init__(
            f"delivery {delivery_id}: transition {from_state.value} -> {to_state.value}{where} is not allowed"
        )


def is_allowed(channel: Channel, from_state: DeliveryState, to_state: DeliveryState) -> bool:
    if to_state not in ALLOWED[from_state]:
        return False
    if channel == Channel.VOICE and to_state in MESSAGE_ONLY:
        return False
    return not (channel != Channel.VOICE and to_state in VOICE_ONLY)


def _refuse(delivery_id, channel, from_state, to_state, event) -> IllegalTransition:
    error = IllegalTransition(delivery_id, from_state, to_state, channel)
    log_event(
        logger,
        "delivery.illegal_transition",
        logging.WARNING,
        delivery_id=delivery_id,
        channel=channel.value,
        from_state=from_state.value,
        to_state=to_state.value,
        trigger=event,
    )
    return error


def _bookkeeping(to_state: DeliveryState, now, from_state: DeliveryState | None = None) -> dict:
    """Columns that follow from entering a state."""
    values: dict = {"updated_at": now}
    if to_state in RESULT_STATES or to_state in {S.COMPLETED, S.SENT, S.DELIVERED}:
        values["result"] = to_state.value
    if to_state == S.ANSWERED:
        values["answered_at"] = now
        values["answered_by"] = "human"
    if to_state == S.LEAVING_MESSAGE:
        if from_state != S.ANSWERED:  # answered earlier: detection decided only now
            values["answered_at"] = now
        values["answered_by"] = "machine"
    if to_state in {
        S.COMPLETED,
        S.BUSY,
        S.NO_ANSWER,
        S.FAILED,
        S.MACHINE,
        S.CANCELLED,
        S.OPTED_OUT,
        S.SENT,
        S.DELIVERED,
    }:
        values["finished_at"] = now
        values["claimed_by"] = None
    if to_state in {S.QUEUED, S.HELD}:
        values["claimed_by"] = None
    if to_state in {S.DIALING, S.SENDING}:
        values["finished_at"] = None
        values["answered_at"] = None
        values["answered_by"] = None
        values["hangup_cause"] = None
        values["hangup_by"] = None
        values["message_started_at"] = None
        values["listened_s"] = None
        values["heard"] = None
    return values


def transition(
    session: Session, delivery: Delivery, to_state: DeliveryState, *, event: str, clock: Clock, **detail
) -> None:
    """Move one delivery to `to_state` and record the event; refuse (and log) what is illegal."""
    from_state = DeliveryState(delivery.state)
    if not is_allowed(Channel(delivery.channel), from_state, to_state):
        raise _refuse(delivery.id, Channel(delivery.channel), from_state, to_state, event)
    now = clock.now()
    for column, value in _bookkeeping(to_state, now, from_state).items():
        setattr(delivery, column, value)
    delivery.state = to_state
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=now,
            event=event,
            from_state=from_state.value,
            to_state=to_state.value,
            detail=_jsonable(detail),
        )
    )


def transition_many(
    session: Session,
    delivery_ids: Sequence[int],
    channel: Channel,
    from_state: DeliveryState,
    to_state: DeliveryState,
    *,
    event: str,
    clock: Clock,
    values: dict | None = None,
    **detail,
) -> int:
    """The same transition for many rows of one channel in one UPDATE (wave planning, stop).

    Only rows still in `from_state` move (checked in the UPDATE itself); returns how many did.
    """
    if not delivery_ids:
        return 0
    if not is_allowed(channel, from_state, to_state):
        raise _refuse(None, channel, from_state, to_state, event)
    now = clock.now()
    columns = _bookkeeping(to_state, now) | (values or {}) | {"state": to_state}
    moved: list[int] = []
    for chunk in _chunks(list(delivery_ids), 500):
        result = session.execute(
            update(Delivery)
            .where(Delivery.id.in_(chunk), Delivery.state == from_state, Delivery.channel == channel)
            .values(**columns)
            .returning(Delivery.id),
            execution_options={"synchronize_session": False},
        )
        moved.extend(result.scalars())
    if moved:
        payload = _jsonable(detail)
        session.execute(
            insert(DeliveryEvent),
            [
                {
                    "delivery_id": delivery_id,
                    "at": now,
                    "event": event,
                    "from_state": from_state.value,
                    "to_state": to_state.value,
                    "detail": payload,
                }
                for delivery_id in moved
            ],
        )
    return len(moved)


def record_event(session: Session, delivery: Delivery, event: str, clock: Clock, **detail) -> None:
    """Log a provider event that changes no state (a DTMF digit, the provider's id)."""
    state = DeliveryState(delivery.state).value
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=clock.now(),
            event=event,
            from_state=state,
            to_state=state,
            detail=_jsonable(detail),
        )
    )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _jsonable(detail: dict) -> dict:
    return {
        key: (value.value if hasattr(value, "value") else value)
        for key, value in detail.items()
        if value is not None
    }
