"""Answered calls that the PBX or the IVR cut before the alert was heard are not "completed":
they end FAILED with their own cause and are retried; once the flow recorded that the message
was heard, a cut call still counts as reached."""

from __future__ import annotations

from datetime import timedelta

from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select

from db.models import ActionStatus, DeliveryEvent, DeliveryState
from deliveries.call_backend import CALL_CUT, IVR_FALLBACK, CallEvent, CallEventType
from deliveries.events import apply_call_event, message_heard, record_message_heard
from deliveries.states import REACHED, transition

S = DeliveryState
T = CallEventType


def answered(s, row, clock, settings, attempt=1):
    row.attempts = attempt
    transition(s, row, S.DIALING, event="dialer.claimed", clock=clock)
    s.commit()
    for kind in (T.RINGING, T.ANSWERED):
        apply(s, ev(row, kind), clock, settings)


def ev(row, kind, *, cause=None, **detail):
    return CallEvent(
        delivery_id=row.id,
        type=kind,
        provider="asterisk",
        provider_id=f"bn-{row.id}-abc",
        hangup_cause=cause,
        event_key=f"bn-{row.id}-{row.attempts}:{kind.value}",
        detail={"attempt": row.attempts, **detail},
    )


def apply(s, event, clock, settings):
    apply_call_event(s, event, clock, settings)
    s.commit()


def states_of(s, row):
    return [
        (e.event, e.to_state)
        for e in s.scalars(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == row.id).order_by(DeliveryEvent.id)
        )
        if e.to_state is not None
    ]


def test_call_cut_by_the_pbx_before_the_message_is_retried(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        answered(s, row, clock, settings)
        apply(s, ev(row, T.FAILED, cause=CALL_CUT, q850=0), clock, settings)
        assert row.state == S.QUEUED and row.hangup_cause == CALL_CUT
        assert row.next_attempt_at == clock.now() + timedelta(
            seconds=settings.dialer.failed_retry_delays_s[0]
        )
        assert states_of(s, row)[-2:] == [("call.cut", "failed"), ("retry.scheduled", "queued")]
        assert row.result == S.FAILED.value  # never counted as reached


def test_fallback_apology_is_not_a_completed_call(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        answered(s, row, clock, settings)
        # An adapter that only flags the fallback in the detail, on a normal-looking end.
        apply(s, ev(row, T.COMPLETED, cause="NORMAL_CLEARING", fallback=True), clock, settings)
        assert row.state == S.QUEUED and row.hangup_cause == IVR_FALLBACK
        assert ("call.cut", "failed") in states_of(s, row)


def test_cut_after_the_message_was_heard_counts_as_reached(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        answered(s, row, clock, settings)
        assert record_message_heard(s, row, clock) is True
        assert record_message_heard(s, row, clock) is False  # once per attempt
        s.commit()
        apply(s, ev(row, T.FAILED, cause=CALL_CUT), clock, settings)
        assert row.state == S.COMPLETED and S.COMPLETED in REACHED


def test_message_heard_on_an_earlier_attempt_does_not_count(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        answered(s, row, clock, settings, attempt=1)
        record_message_heard(s, row, clock)
        s.commit()
        assert message_heard(s, row)
        row.attempts = 2  # the next attempt of the same row
        assert not message_heard(s, row)


def test_participant_hanging_up_early_is_still_reached(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        answered(s, row, clock, settings)
        apply(s, ev(row, T.COMPLETED, cause="NORMAL_CLEARING"), clock, settings)
        assert row.state == S.COMPLETED and row.hangup_cause == "NORMAL_CLEARING"


def test_cut_call_of_an_ended_action_is_not_retried(db, room, clock, settings):
    with db.session() as s:
        action = make_action(s, room)
        (row,) = make_deliveries(s, action, 1)
        answered(s, row, clock, settings)
        action.status = ActionStatus.ENDED
        s.commit()
        apply(s, ev(row, T.FAILED, cause=CALL_CUT), clock, settings)
        assert row.state == S.FAILED and row.hangup_cause == CALL_CUT


def test_cut_calls_are_retried_as_often_as_the_policy_allows(db, room, clock, settings):
    delays = settings.dialer.failed_retry_delays_s
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        for attempt in range(1, len(delays) + 2):
            answered(s, row, clock, settings, attempt=attempt)
            apply(s, ev(row, T.FAILED, cause=CALL_CUT), clock, settings)
            if attempt <= len(delays):
                assert row.state == S.QUEUED
                assert row.next_attempt_at == clock.now() + timedelta(seconds=delays[attempt - 1])
        assert row.state == S.FAILED  # the policy's last retry was used
