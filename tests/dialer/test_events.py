"""Call events move rows through the state machine, idempotently, and schedule retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select

from db.models import (
    ActionStatus,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    HangupBy,
    MessageHeard,
)
from deliveries.call_backend import CallEvent, CallEventType
from deliveries.events import UnknownDelivery, apply_call_event, load_batch_for_update
from deliveries.states import IllegalTransition, transition

S = DeliveryState
T = CallEventType


def dialing(s, row, clock, attempt=1):
    row.attempts = attempt
    transition(s, row, S.DIALING, event="dialer.claimed", clock=clock)
    s.commit()


def ev(row, kind, *, attempt=None, key=None, cause=None, provider_id="P1", digits=None):
    return CallEvent(
        delivery_id=row.id,
        type=kind,
        provider="simulator",
        provider_id=provider_id,
        hangup_cause=cause,
        event_key=key,
        digits=digits,
        detail={"attempt": attempt if attempt is not None else row.attempts},
    )


def apply(s, event, clock, settings):
    apply_call_event(s, event, clock, settings)
    s.commit()


def test_answered_call_runs_to_completed(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock)
        for kind in (T.DIALING, T.RINGING, T.ANSWERED):
            apply(s, ev(row, kind), clock, settings)
        apply(s, ev(row, T.DTMF, digits="3"), clock, settings)
        apply(s, ev(row, T.COMPLETED, cause="NORMAL_CLEARING"), clock, settings)
        assert row.state == S.COMPLETED and row.provider_id == "P1"
        assert row.answered_by == "human" and row.finished_at == clock.now()
        events = [
            (e.event, e.to_state)
            for e in s.scalars(
                select(DeliveryEvent).where(DeliveryEvent.delivery_id == row.id).order_by(DeliveryEvent.id)
            )
        ]
        assert events == [
            ("dialer.claimed", "dialing"),
            ("provider.accepted", "dialing"),
            ("call.ringing", "ringing"),
            ("call.answered", "answered"),
            ("call.dtmf", "answered"),
            ("call.completed", "completed"),
        ]


def test_repeated_late_and_foreign_events_change_nothing(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock)
        apply(s, ev(row, T.RINGING, key="k1"), clock, settings)
        apply(s, ev(row, T.ANSWERED, key="k2"), clock, settings)
        count = len(s.scalars(select(DeliveryEvent)).all())
        apply(s, ev(row, T.ANSWERED, key="k2"), clock, settings)  # a repeated callback
        apply(s, ev(row, T.RINGING, key="k3"), clock, settings)  # late: already answered
        apply(s, ev(row, T.BUSY, attempt=0, key="k4"), clock, settings)  # an earlier attempt
        apply(s, ev(row, T.NO_ANSWER, provider_id="OTHER", key="k5"), clock, settings)
        assert row.state == S.ANSWERED
        assert len(s.scalars(select(DeliveryEvent)).all()) == count


def apply_batch(s, events, clock, settings):
    """The dialer's way: the batch's rows are read and locked at once, then each event applied."""
    rows = load_batch_for_update(s, [e.delivery_id for e in events])
    for event in events:
        apply_call_event(s, event, clock, settings, rows.get(event.delivery_id))


def test_a_batch_refuses_repeats_within_it_and_of_earlier_batches(db, room, clock, settings):
    with db.session() as s:
        row, other = make_deliveries(s, make_action(s, room), 2)
        dialing(s, row, clock)
        dialing(s, other, clock)
        apply_batch(
            s,
            [
                ev(row, T.RINGING, key="r1"),
                ev(other, T.RINGING, key="o1"),
                ev(row, T.DTMF, key="r2", digits="1"),
                ev(row, T.DTMF, key="r2", digits="1"),  # repeated within the batch
            ],
            clock,
            settings,
        )
        s.commit()
        apply_batch(
            s,
            [ev(row, T.DTMF, key="r2", digits="1"), ev(other, T.DTMF, key="o2", digits="2")],
            clock,
            settings,
        )
        s.commit()
        dtmf = s.scalars(
            select(DeliveryEvent.delivery_id)
            .where(DeliveryEvent.event == "call.dtmf")
            .order_by(DeliveryEvent.id)
        ).all()
        assert dtmf == [row.id, other.id]
        assert (row.state, other.state) == (S.RINGING, S.RINGING)


def test_an_event_of_a_rolled_back_batch_is_applied_when_it_comes_again(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock)
        apply_batch(s, [ev(row, T.DTMF, key="d1", digits="3")], clock, settings)
        s.rollback()
        apply(s, ev(row, T.DTMF, key="d1", digits="3"), clock, settings)  # one event, no batch
        apply(s, ev(row, T.DTMF, key="d1", digits="3"), clock, settings)  # a repeated webhook
        dtmf = s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "call.dtmf")).all()
        assert [e.detail["digits"] for e in dtmf] == ["3"]


def test_unknown_delivery_and_illegal_event_are_refused(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock)
        with pytest.raises(UnknownDelivery):
            apply_call_event(
                s, CallEvent(delivery_id=999999, type=T.RINGING, provider="simulator"), clock, settings
            )
        with pytest.raises(IllegalTransition):  # "completed" without ever answering
            apply_call_event(s, ev(row, T.COMPLETED), clock, settings)
        s.rollback()
        assert s.get(Delivery, row.id).state == S.DIALING


def run_attempt(s, row, kind, clock, settings, cause=None):
    """Claim the row for its next attempt and end it with `kind`."""
    dialing(s, row, clock, attempt=row.attempts + 1)
    apply(s, ev(row, kind, cause=cause, provider_id=None), clock, settings)


def test_busy_is_retried_after_each_configured_delay_then_final(db, room, clock, settings):
    delays = settings.dialer.busy_retry_delays_s
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        for delay in delays:
            run_attempt(s, row, T.BUSY, clock, settings, cause="USER_BUSY")
            assert row.state == S.QUEUED and row.result == "busy"
            assert row.next_attempt_at == clock.now() + timedelta(seconds=delay)
            clock.advance(delay)
        run_attempt(s, row, T.BUSY, clock, settings, cause="USER_BUSY")
        assert row.state == S.BUSY and row.attempts == len(delays) + 1


def test_no_answer_schedule_is_counted_apart_from_busy(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        run_attempt(s, row, T.BUSY, clock, settings)
        assert row.next_attempt_at - clock.now() == timedelta(seconds=settings.dialer.busy_retry_delays_s[0])
        for delay in settings.dialer.no_answer_retry_delays_s:
            run_attempt(s, row, T.NO_ANSWER, clock, settings)
            assert row.state == S.QUEUED
            assert row.next_attempt_at - clock.now() == timedelta(seconds=delay)
        run_attempt(s, row, T.NO_ANSWER, clock, settings)
        assert row.state == S.NO_ANSWER


@pytest.mark.parametrize("cause", ["UNALLOCATED_NUMBER", "1", "INVALID_NUMBER_FORMAT"])
def test_invalid_numbers_are_never_retried(db, room, clock, settings, cause):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        run_attempt(s, row, T.FAILED, clock, settings, cause=cause)
        assert row.state == S.FAILED and row.hangup_cause == cause


def test_transient_failure_is_retried(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        run_attempt(s, row, T.FAILED, clock, settings, cause="CONGESTION")
        assert row.state == S.QUEUED
        assert row.next_attempt_at - clock.now() == timedelta(
            seconds=settings.dialer.failed_retry_delays_s[0]
        )


def test_machine_policy_leave_message_is_final(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock, attempt=1)
        apply(s, ev(row, T.MACHINE), clock, settings)
        assert row.state == S.LEAVING_MESSAGE and row.answered_by == "machine"
        assert row.finished_at is None and row.result is None
        apply(s, ev(row, T.COMPLETED), clock, settings)
        assert row.state == S.MACHINE and row.finished_at == clock.now()
        assert row.result == "machine"


def test_machine_policy_retry(db, room, clock, settings):
    settings.dialer.machine_policy = "retry"
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        dialing(s, row, clock, attempt=1)
        apply(s, ev(row, T.MACHINE), clock, settings)
        apply(s, ev(row, T.COMPLETED), clock, settings)
        assert row.state == S.QUEUED
        assert row.next_attempt_at - clock.now() == timedelta(
            seconds=settings.dialer.machine_retry_delays_s[0]
        )


def test_no_retry_once_the_action_ended(db, room, clock, settings):
    with db.session() as s:
        action = make_action(s, room)
        (row,) = make_deliveries(s, action, 1)
        dialing(s, row, clock)
        action.status = ActionStatus.ENDED
        s.commit()
        apply(s, ev(row, T.BUSY), clock, settings)
        assert row.state == S.BUSY


@pytest.mark.parametrize("kind,cause", [(T.BUSY, "USER_BUSY"), (T.NO_ANSWER, None)])
def test_a_verification_call_is_never_retried(db, room, clock, settings, kind, cause):
    """Its code expires, and a redial would run without it: the participant asks again."""
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1, kind=DeliveryKind.VERIFICATION)
        row.action_id = None
        s.commit()
        run_attempt(s, row, kind, clock, settings, cause=cause)
        assert row.state in (S.BUSY, S.NO_ANSWER) and row.next_attempt_at is None


def test_the_row_is_answered_at_once_and_detections_verdict_recorded_after(db, room, clock, settings):
    with db.session() as s:
        person, machine = make_deliveries(s, make_action(s, room), 2)
        for row in (person, machine):
            dialing(s, row, clock)
            apply(s, ev(row, T.ANSWERED, key="up"), clock, settings)
            assert row.state == S.ANSWERED
        answered_at = machine.answered_at
        clock.advance(2.0)
        verdict = CallEvent(
            person.id, T.ANSWERED, "simulator", "P1", event_key="amd", detail={"amd_status": "HUMAN"}
        )
        apply(s, verdict, clock, settings)
        apply(s, ev(machine, T.MACHINE, key="amd"), clock, settings)
        assert person.state == S.ANSWERED and machine.state == S.LEAVING_MESSAGE
        assert machine.answered_at == answered_at  # when the phone answered, not the verdict
        kinds = s.scalars(select(DeliveryEvent.event).where(DeliveryEvent.delivery_id == person.id)).all()
        assert kinds[-1] == "call.amd"


def test_an_answer_gone_before_the_message_heard_nothing_and_the_causes_say_who(db, room, clock, settings):
    settings.dialer.busy_retry_delays_s = []
    with db.session() as s:
        early, busy, listener = make_deliveries(s, make_action(s, room), 3)
        for row in (early, busy, listener):
            dialing(s, row, clock)
        apply(s, ev(early, T.ANSWERED), clock, settings)
        clock.advance(0.5)
        apply(s, ev(early, T.COMPLETED, cause="NORMAL_CLEARING"), clock, settings)
        assert early.state == S.COMPLETED  # answered, and counted so
        assert (early.heard, early.listened_s) == (MessageHeard.NONE, 0.0)
        assert early.hangup_by is HangupBy.PARTICIPANT
        apply(s, ev(busy, T.BUSY, cause="USER_BUSY"), clock, settings)
        assert (busy.state, busy.hangup_cause, busy.hangup_by) == (S.BUSY, "USER_BUSY", HangupBy.PARTICIPANT)
        # A listener who hung up 6 s into the message (the flow stamped its start).
        apply(s, ev(listener, T.ANSWERED), clock, settings)
        listener.message_started_at = clock.now()
        clock.advance(6.0)
        apply(s, ev(listener, T.COMPLETED, cause="NORMAL_CLEARING"), clock, settings)
        assert (listener.heard, listener.listened_s) == (MessageHeard.PART, 6.0)
