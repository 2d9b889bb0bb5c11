"""Provider events -> delivery state. Idempotent: a repeated or late event changes nothing.

Called from the dialer worker (simulator events), the AMI thread (Asterisk) and the Twilio
status webhooks. Each event is matched to its delivery and attempt; an event that belongs to an
earlier attempt, repeats an `event_key` already seen, or reports a state the row has already
passed is ignored. A result that the retry policy retries puts the row back in the queue with
`next_attempt_at` set: retries are rows scheduled for later, not sleeping threads.

An answered call that the PBX or the IVR cut (the adapter says so with hangup cause CALL_CUT or
IVR_FALLBACK) was not "completed": unless the alert flow had already recorded that the message
was heard (`record_message_heard`, a DeliveryEvent of this attempt), it ends FAILED with that
cause and the retry policy retries it like any transient failure. A participant who hangs up
on their own is still COMPLETED (the call was answered); how much of the message they heard is
on the row (`heard`, `listened_s`: deliveries.listening), and only a call that played (part
of) the message counts as "heard the message" in the figures.

The row moves to ANSWERED when the phone answers; answering-machine detection decides after:
a MACHINE event moves it on to LEAVING_MESSAGE, a person's verdict is recorded as `call.amd`.
Every ended call gets `hangup_by` (participant, ivr or network): the flow's own goodbye has
set it already, an adapter may say it (`detail["hangup_by"]`), else it follows from the
result (a cut: network; the fallback: ivr; busy: participant; no answer: our dial timeout).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session, SessionTransaction

from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    HangupBy,
)
from deliveries.call_backend import CALL_CUT, CUT_CAUSES, IVR_FALLBACK, CallEvent, CallEventType
from deliveries.listening import settle_on_hangup
from deliveries.retry import retry_delay_s
from deliveries.states import record_event, transition

logger = logging.getLogger(__name__)

S = DeliveryState
T = CallEventType

_RESULT_OF = {T.BUSY: S.BUSY, T.NO_ANSWER: S.NO_ANSWER, T.FAILED: S.FAILED}

# The IVR's evidence that the participant heard the alert message on this attempt.
MESSAGE_HEARD = "ivr.message_heard"


class UnknownDelivery(LookupError):
    def __init__(self, delivery_id: int):
        super().__init__(f"call event for unknown delivery {delivery_id}")
        self.delivery_id = delivery_id


def load_for_update(session: Session, delivery_id: int) -> Delivery | None:
    query = select(Delivery).where(Delivery.id == delivery_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def load_batch_for_update(session: Session, delivery_ids: Iterable[int]) -> dict[int, Delivery]:
    """Lock (PostgreSQL) and read the deliveries of a batch of call events in one query, in id
    order (so two workers locking overlapping batches cannot deadlock), and note the event keys
    they have already seen, so `apply_call_event` refuses duplicates without a query per event.
    The noted keys last until the transaction ends."""
    ids = sorted(set(delivery_ids))
    if not ids:
        return {}
    query = select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {row.id: row for row in session.scalars(query)}
    _note_seen_keys(session, list(rows))
    return rows


def apply_call_event(
    session: Session,
    event: CallEvent,
    clock: Clock,
    settings: Settings,
    delivery: Delivery | None = None,
) -> None:
    """Apply one normalized call event to its delivery row (the caller commits).

    `delivery` is the event's row when the caller has already read and locked it in this
    transaction (`load_batch_for_update`); otherwise it is read and locked here."""
    if delivery is None or delivery.id != event.delivery_id:
        delivery = load_for_update(session, event.delivery_id)
    if delivery is None:
        raise UnknownDelivery(event.delivery_id)
    if Channel(delivery.channel) != Channel.VOICE:
        raise ValueError(f"call event for {delivery.channel} delivery {delivery.id}")
    reason = _ignore_reason(session, delivery, event)
    if reason:
        log_event(
            logger,
            "call_event.ignored",
            logging.DEBUG,
            delivery_id=delivery.id,
            type=event.type.value,
            reason=reason,
            state=delivery.state.value,
        )
        return
    detail = {
        "provider": event.provider,
        "provider_id": event.provider_id,
        "event_key": event.event_key,
        "attempt": delivery.attempts,
    }
    if event.provider_id and not delivery.provider_id:
        delivery.provider_id = event.provider_id
        delivery.provider = event.provider
    state = S(delivery.state)

    if event.type == T.DIALING:
        if state == S.DIALING:
            record_event(session, delivery, "provider.accepted", clock, **detail)
    elif event.type == T.RINGING:
        if state == S.DIALING:
            transition(session, delivery, S.RINGING, event="call.ringing", clock=clock, **detail)
    elif event.type == T.ANSWERED:
        if state in (S.DIALING, S.RINGING):
            transition(session, delivery, S.ANSWERED, event="call.answered", clock=clock, **detail)
        elif state == S.ANSWERED and (event.detail or {}).get("amd_status") is not None:
            # Detection's verdict after the answer: a person (or not sure), recorded.
            amd = {k: event.detail.get(k) for k in ("amd_status", "amd_cause")}
            record_event(session, delivery, "call.amd", clock, **amd, **detail)
    elif event.type == T.MACHINE:
        if state in (S.DIALING, S.RINGING, S.ANSWERED):
            transition(session, delivery, S.LEAVING_MESSAGE, event="call.machine", clock=clock, **detail)
    elif event.type == T.DTMF:
        record_event(session, delivery, "call.dtmf", clock, digits=event.digits, **detail)
    elif event.type == T.COMPLETED:
        _completed(session, delivery, state, event, clock, settings, detail)
    elif event.type in _RESULT_OF:
        _ended_without_answer(session, delivery, state, event, clock, settings, detail)
    else:  # pragma: no cover - CallEventType is closed
        raise ValueError(f"unknown call event type {event.type}")


def _ignore_reason(session: Session, delivery: Delivery, event: CallEvent) -> str | None:
    state = S(delivery.state)
    if state in (S.QUEUED, S.HELD):
        return "not_in_flight"
    attempt = event.detail.get("attempt") if event.detail else None
    if attempt is not None and int(attempt) != delivery.attempts:
        return "earlier_attempt"
    if event.provider_id and delivery.provider_id and event.provider_id != delivery.provider_id:
        return "other_call"
    if event.event_key and _seen(session, delivery.id, event.event_key):
        return "duplicate"
    return None


def _seen(session: Session, delivery_id: int, event_key: str) -> bool:
    noted = session.info.get(_SEEN_KEYS, {}).get(delivery_id)
    if noted is not None:
        return event_key in noted
    details = session.scalars(select(DeliveryEvent.detail).where(DeliveryEvent.delivery_id == delivery_id))
    return any((d or {}).get("event_key") == event_key for d in details)


# session.info key: {delivery_id: event keys of its DeliveryEvents, stored or added in this
# transaction}. Filled by `load_batch_for_update`, kept whole by `_note_added_key` (every
# DeliveryEvent added to the session), dropped when the transaction ends (commit or rollback).
_SEEN_KEYS = "deliveries.events.seen_keys"


def _note_seen_keys(session: Session, delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return
    session.flush()  # events added earlier in this transaction are in the query's answer
    seen: dict[int, set[str]] = {delivery_id: set() for delivery_id in delivery_ids}
    rows = session.execute(
        select(DeliveryEvent.delivery_id, DeliveryEvent.detail).where(
            DeliveryEvent.delivery_id.in_(delivery_ids)
        )
    )
    for delivery_id, detail in rows:
        key = (detail or {}).get("event_key")
        if key:
            seen[delivery_id].add(key)
    session.info.setdefault(_SEEN_KEYS, {}).update(seen)


@orm_event.listens_for(Session, "transient_to_pending")
def _note_added_key(session: Session, instance: object) -> None:
    if not isinstance(instance, DeliveryEvent):
        return
    noted = session.info.get(_SEEN_KEYS)
    if not noted or instance.delivery_id not in noted:
        return
    key = (instance.detail or {}).get("event_key")
    if key:
        noted[instance.delivery_id].add(key)


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_seen_keys(session: Session, transaction: SessionTransaction) -> None:
    # The transaction or a savepoint ended (committed: other writers may add events now; rolled
    # back: the added ones are gone). A flush's inner subtransaction changes nothing.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_SEEN_KEYS, None)


def record_message_heard(session: Session, delivery: Delivery, clock: Clock) -> bool:
    """The IVR played the alert message to its end on the current attempt (once per attempt;
    the caller commits). Returns False when it was already recorded."""
    if message_heard(session, delivery):
        return False
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=clock.now(),
            event=MESSAGE_HEARD,
            detail={"attempt": delivery.attempts},
        )
    )
    return True


def message_heard(session: Session, delivery: Delivery) -> bool:
    """Has the IVR recorded that the message was heard on the delivery's current attempt?"""
    session.flush()
    details = session.scalars(
        select(DeliveryEvent.detail).where(
            DeliveryEvent.delivery_id == delivery.id, DeliveryEvent.event == MESSAGE_HEARD
        )
    )
    return any((d or {}).get("attempt") == delivery.attempts for d in details)


def cut_cause(event: CallEvent) -> str | None:
    """CALL_CUT or IVR_FALLBACK when the adapter says the PBX or the IVR ended the call."""
    cause = (event.hangup_cause or "").strip().upper()
    if cause in CUT_CAUSES:
        return cause
    if (event.detail or {}).get("fallback"):
        return IVR_FALLBACK
    return None


_HANGUP_BY_RESULT = {S.BUSY: HangupBy.PARTICIPANT, S.NO_ANSWER: HangupBy.IVR, S.FAILED: HangupBy.NETWORK}


def _note_hangup_by(delivery: Delivery, event: CallEvent, fallback: HangupBy) -> None:
    """Who ended the call: what the flow or the adapter said, else `fallback`."""
    cut = cut_cause(event)
    if cut == CALL_CUT:
        delivery.hangup_by = HangupBy.NETWORK
    elif cut == IVR_FALLBACK:
        delivery.hangup_by = HangupBy.IVR
    elif delivery.hangup_by is None:
        said = (event.detail or {}).get("hangup_by")
        delivery.hangup_by = HangupBy(said) if said in {h.value for h in HangupBy} else fallback


def _answered_call_ended(session, delivery, event, clock, settings, detail, **extra) -> None:
    """An answered (person) call ended: completed, or cut before the message was heard."""
    cut = cut_cause(event)
    if delivery.kind == DeliveryKind.ALERT:  # the alert flow reports the message's progress
        settle_on_hangup(delivery, event.at or clock.now())
    _note_hangup_by(delivery, event, HangupBy.PARTICIPANT)
    if cut is not None and not message_heard(session, delivery):
        delivery.hangup_cause = cut
        transition(
            session,
            delivery,
            S.FAILED,
            event="call.cut",
            clock=clock,
            hangup_cause=cut,
            **extra,
            **detail,
        )
        log_event(
            logger, "call.cut", logging.WARNING, delivery_id=delivery.id, cause=cut, attempt=delivery.attempts
        )
        schedule_retry(session, delivery, S.FAILED, cut, clock, settings)
        return
    delivery.hangup_cause = event.hangup_cause
    if cut is not None:
        extra = {**extra, "cut_after_message": cut}
    transition(session, delivery, S.COMPLETED, event="call.completed", clock=clock, **extra, **detail)


def _completed(session, delivery, state, event, clock, settings, detail) -> None:
    if state == S.ANSWERED:
        _answered_call_ended(session, delivery, event, clock, settings, detail)
    elif state == S.LEAVING_MESSAGE:
        _message_left(session, delivery, event, clock, settings, detail)
    elif state in (S.DIALING, S.RINGING):
        # "Completed" without an answer is not in the table: refused, logged and raised.
        transition(session, delivery, S.COMPLETED, event="call.completed", clock=clock, **detail)


def _ended_without_answer(session, delivery, state, event, clock, settings, detail) -> None:
    result = _RESULT_OF[event.type]
    if state == S.ANSWERED:
        # The line dropped after the participant answered: they were reached, unless the PBX
        # or the IVR cut the call before the message was heard.
        _answered_call_ended(session, delivery, event, clock, settings, detail, reported=result.value)
        return
    if state == S.LEAVING_MESSAGE:
        # The line ended while the machine listened: the message was left as far as it got.
        _message_left(session, delivery, event, clock, settings, detail, reported=result.value)
        return
    if state not in (S.DIALING, S.RINGING):
        return  # already past: a late or repeated report
    delivery.hangup_cause = event.hangup_cause
    _note_hangup_by(delivery, event, _HANGUP_BY_RESULT[result])
    transition(
        session,
        delivery,
        result,
        event=f"call.{result.value}",
        clock=clock,
        hangup_cause=event.hangup_cause,
        **detail,
    )
    schedule_retry(session, delivery, result, event.hangup_cause, clock, settings)


def _message_left(session, delivery, event, clock, settings, detail, **extra) -> None:
    delivery.hangup_cause = event.hangup_cause
    if delivery.kind == DeliveryKind.ALERT:  # the alert flow reports the message's progress
        settle_on_hangup(delivery, event.at or clock.now())
    _note_hangup_by(delivery, event, HangupBy.PARTICIPANT)
    transition(
        session, delivery, S.MACHINE, event="call.machine_message_left", clock=clock, **extra, **detail
    )
    schedule_retry(session, delivery, S.MACHINE, None, clock, settings)


def schedule_retry(
    session: Session,
    delivery: Delivery,
    result: DeliveryState,
    cause: str | None,
    clock: Clock,
    settings: Settings,
) -> bool:
    """Put a delivery that just ended with `result` back in the queue if the policy retries it."""
    if not retry_allowed(session, delivery):
        return False
    session.flush()
    same = (
        session.scalar(
            select(func.count())
            .select_from(DeliveryEvent)
            .where(
                DeliveryEvent.delivery_id == delivery.id,
                DeliveryEvent.to_state == result.value,
                DeliveryEvent.from_state != result.value,
            )
        )
        or 0
    )
    delay = retry_delay_s(result, same - 1, cause, settings.dialer)
    if delay is None:
        return False
    delivery.next_attempt_at = clock.now() + timedelta(seconds=delay)
    transition(
        session, delivery, S.QUEUED, event="retry.scheduled", clock=clock, delay_s=delay, after=result.value
    )
    return True


def retry_allowed(session: Session, delivery: Delivery) -> bool:
    """Alerts are retried while their action runs; outcome messages always.

    A verification call is never retried: it carries a code that expires, and the participant
    asks for a new one instead (a redial would also run the alert flow without the code).
    """
    if delivery.kind == DeliveryKind.VERIFICATION:
        return False
    if delivery.kind != DeliveryKind.ALERT or delivery.action_id is None:
        return True
    status = session.scalar(select(Action.status).where(Action.id == delivery.action_id))
    return status == ActionStatus.RUNNING
