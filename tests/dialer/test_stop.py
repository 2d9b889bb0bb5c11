"""Ending an action: queued calls cancelled at once, calls in progress finish or are hung up;
the outcome message goes to everyone reached; stale actions end by themselves."""

from __future__ import annotations

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import func, select
from stepped_wave import dialer_log, run_until_done, simulated_worker

from actions.end import end_action
from actions.errors import ActionError
from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    MessageHeard,
)
from deliveries.states import IN_FLIGHT
from dialer.jobs import end_stale_actions, send_due_outcome_messages

S = DeliveryState


def states(db, kind=DeliveryKind.ALERT):
    with db.session() as s:
        return dict(
            s.execute(
                select(Delivery.state, func.count()).where(Delivery.kind == kind).group_by(Delivery.state)
            ).all()
        )


def start_wave(db, room, clock, settings, n=40, simulate_ivr=False):
    settings.dialer.channels, settings.dialer.cps = 6, 6.0
    with db.session() as s:
        action = make_action(s, room, clock=clock)
        make_deliveries(s, action, n)
        make_deliveries(s, action, 3, channel=Channel.SMS, prefix="+3161")
        s.commit()
        action_id = action.id
    worker, network = simulated_worker(db, clock, settings, simulate_ivr=simulate_ivr)
    for _ in range(30):  # 6 seconds into the wave: some calls answered, some ringing
        worker.tick()
        clock.advance(0.2)
        network.pump(clock.now())
    return action_id, worker, network


def end(db, action_id, clock, settings, outcome="arrested"):
    with db.session() as s:
        end_action(s, s.get(Action, action_id), None, outcome, "Verdachte aangehouden.", clock, settings)


def test_stop_cancels_queued_at_once_and_lets_calls_finish(db, room, clock, settings):
    action_id, worker, network = start_wave(db, room, clock, settings)
    before = states(db)
    in_flight = sum(before.get(s, 0) for s in IN_FLIGHT)
    queued = before.get(S.QUEUED, 0)
    assert in_flight > 0 and queued > 0
    ended_at = clock.now()
    end(db, action_id, clock, settings)
    after = states(db)
    assert after[S.CANCELLED] == queued
    assert sum(after.get(s, 0) for s in IN_FLIGHT) == in_flight
    run_until_done(worker, network, clock, db)
    final = states(db)
    assert final[S.CANCELLED] == queued
    assert not any(final.get(s) for s in (S.QUEUED, *IN_FLIGHT))
    claims_after_end = [e for e in dialer_log(db) if e[4] > 0 and e[0] > ended_at]
    assert claims_after_end == []
    with db.session() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "action.ended")).one()
        assert audit.detail["cancelled"] == queued
        action = s.get(Action, action_id)
        assert action.status == ActionStatus.ENDED and action.outcome.value == "arrested"
        with pytest.raises(ActionError) as error:
            end_action(s, action, None, "found", "", clock, settings)
        assert "lopende actie" in error.value.user_message


def test_stop_hangs_up_calls_in_progress_when_set(db, room, clock, settings):
    settings.dialer.hang_up_in_progress_on_stop = True
    action_id, worker, network = start_wave(db, room, clock, settings)
    assert network.active_calls > 0
    end(db, action_id, clock, settings)
    worker.tick()
    network.pump(clock.now())
    worker.tick()
    assert network.active_calls == 0
    final = states(db)
    assert not any(final.get(s) for s in (S.QUEUED, *IN_FLIGHT))
    with db.session() as s:
        hung_up = s.scalar(
            select(func.count())
            .select_from(DeliveryEvent)
            .where(DeliveryEvent.event == "action.ended.hangup")
        )
    assert hung_up > 0


def test_unknown_outcome_is_refused(db, room, clock, settings):
    with db.session() as s:
        action = make_action(s, room)
        s.commit()
        with pytest.raises(ActionError):
            end_action(s, action, None, "vanished", "", clock, settings)
        assert action.status == ActionStatus.RUNNING


def test_outcome_message_goes_to_everyone_reached_after_the_delay(db, room, clock, settings):
    settings.dialer.outcome_delay_s = 600
    # The participants' side of the calls runs (the simulated IVR): the calls say what was heard.
    action_id, worker, network = start_wave(db, room, clock, settings, n=12, simulate_ivr=True)
    run_until_done(
        worker,
        network,
        clock,
        db,
        until=lambda: not any(states(db).get(state) for state in (S.QUEUED, *IN_FLIGHT)),
    )
    end(db, action_id, clock, settings, outcome="found")
    with db.session() as s:
        assert send_due_outcome_messages(s, clock, settings) == 0  # not yet
        answered = s.scalars(
            select(Delivery).where(
                Delivery.kind == DeliveryKind.ALERT,
                Delivery.state.in_([S.COMPLETED, S.MACHINE, S.SENT]),
                Delivery.opt_out_requested.is_(False),
            )
        ).all()
        # Who answered and hung up before the message heard no alert: no outcome message.
        heard_nothing = [d.target for d in answered if d.heard is MessageHeard.NONE]
        reached = [d.target for d in answered if d.heard is not MessageHeard.NONE]
    clock.advance(600)
    with db.session() as s:
        assert send_due_outcome_messages(s, clock, settings) == len(reached) > 0
        assert send_due_outcome_messages(s, clock, settings) == 0  # once only
        outcome_targets = s.scalars(
            select(Delivery.target).where(Delivery.kind == DeliveryKind.OUTCOME)
        ).all()
    assert sorted(outcome_targets) == sorted(reached)
    assert not set(heard_nothing) & set(outcome_targets)
    run_until_done(worker, network, clock, db)
    done = states(db, DeliveryKind.OUTCOME)
    assert done.get(S.SENT, 0) == 3
    assert sum(done.values()) == len(reached)
    outcome_calls = [r for r in network.recent_requests if r.flow == "outcome"]
    assert outcome_calls and all("Burgernet" in r.variables["text"] for r in outcome_calls)
    sms = [m for m in worker.senders["sms"].sent if m.text and "Burgernet" in m.text]
    assert len(worker.senders["sms"].sent) == 6 and sms


def test_stale_actions_end_by_themselves(db, room, clock, settings):
    with db.session() as s:
        old = make_action(s, room, clock=clock)
        s.commit()
        clock.advance(3600)
        fresh = make_action(s, room, clock=clock)
        s.commit()
        clock.advance(settings.dialer.stale_action_hours * 3600 - 1800)
        assert end_stale_actions(s, clock, settings) == [old.id]
        s.refresh(old)
        s.refresh(fresh)
        assert old.status == ActionStatus.ENDED and old.outcome.value == "no_result"
        assert fresh.status == ActionStatus.RUNNING
