"""Worker details: reconciling silent calls, opt-outs after planning, a refused originate,
and the simulated participant walking the real alert flow."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from stepped_wave import run_until_done, simulated_worker

from actions.end import end_action
from config.settings import SimulatorSettings
from db.heartbeats import recent
from db.models import (
    Action,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Participant,
    ParticipantStatus,
)
from deliveries.call_backend import CallEvent, CallEventType, OriginateError
from deliveries.message_sender import SendResult
from deliveries.message_status import apply_message_status
from deliveries.retry import OUTCOME_UNKNOWN
from deliveries.states import transition
from dialer.worker import DialerWorker, PacingLoop, ensure_trunk

S = DeliveryState


def test_silent_calls_are_reconciled_never_redialled(db, room, clock, settings):
    worker, network = simulated_worker(db, clock, settings)
    hung_up: list[tuple[int, str | None]] = []
    network.hangup = lambda delivery_id, provider_id: hung_up.append((delivery_id, provider_id))
    with db.session() as s:
        action = make_action(s, room)
        dialing, ringing, answered, fresh, machine = make_deliveries(s, action, 5)
        (message,) = make_deliveries(s, action, 1, channel=Channel.SMS, prefix="+3161")
        for row in (dialing, ringing, answered, fresh, machine, message):
            row.attempts, row.last_attempt_at, row.claimed_by = 1, clock.now(), "dead-worker"
            row.provider_id = f"call-{row.target}"
        for row in (dialing, ringing, answered, fresh, machine):
            transition(s, row, S.DIALING, event="dialer.claimed", clock=clock)
        transition(s, ringing, S.RINGING, event="call.ringing", clock=clock)
        transition(s, answered, S.ANSWERED, event="call.answered", clock=clock)
        transition(s, machine, S.LEAVING_MESSAGE, event="call.machine", clock=clock)
        transition(s, message, S.SENDING, event="dialer.claimed", clock=clock)
        s.commit()
        ids = [r.id for r in (dialing, ringing, answered, fresh, machine, message)]
    clock.advance(settings.dialer.max_call_s + settings.dialer.reconcile_grace_s + 1)
    with db.session() as s:  # a call that only just started is left alone
        row = s.get(Delivery, ids[3])
        row.last_attempt_at = clock.now()
        s.commit()
    assert worker.reconcile() == 5
    with db.session() as s:
        rows = [s.get(Delivery, i) for i in ids]
    assert [r.state for r in rows] == [S.FAILED, S.FAILED, S.COMPLETED, S.DIALING, S.MACHINE, S.FAILED]
    assert all(r.hangup_cause == OUTCOME_UNKNOWN for r in rows if r.state != S.DIALING)
    assert all(r.attempts == 1 for r in rows)
    # The stale calls' channels are hung up too (not the message, not the fresh call).
    assert sorted(hung_up) == sorted((r.id, r.provider_id) for r in rows if r.id not in (ids[3], ids[5]))
    worker.tick()
    assert network.originated == 0  # nothing redialled


def test_participants_who_opted_out_since_planning_are_not_called(db, room, clock, settings):
    with db.session() as s:
        person = Participant(name="A", birth_year=1980, channels=["voice"], status=ParticipantStatus.ACTIVE)
        s.add(person)
        s.flush()
        action = make_action(s, room)
        rows = make_deliveries(s, action, 3)
        rows[0].participant_id = person.id
        person.status = ParticipantStatus.OPTED_OUT
        s.commit()
        opted_out_id = rows[0].id
    worker, network = simulated_worker(db, clock, settings)
    report = worker.tick()
    assert report.opted_out == 1
    with db.session() as s:
        assert s.get(Delivery, opted_out_id).state == S.OPTED_OUT
        assert s.get(Delivery, opted_out_id).attempts == 0


class RefusingNetwork:
    name = "simulator"

    def start(self, sink):
        pass

    def originate(self, request):
        raise OriginateError("trunk down")

    def hangup(self, delivery_id, provider_id):
        pass

    def stop(self):
        pass


def test_a_refused_originate_is_retried_later(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        s.commit()
        row_id = row.id
    worker = DialerWorker(db, RefusingNetwork(), clock, settings, worker_id="w")
    worker.start()
    assert worker.tick().placed == 1
    worker.tick()  # applies the failure
    with db.session() as s:
        row = s.get(Delivery, row_id)
        assert row.state == S.QUEUED and row.result == "failed"
        assert row.hangup_cause == "ORIGINATE_ERROR"
        assert row.next_attempt_at == clock.now() + timedelta(
            seconds=settings.dialer.failed_retry_delays_s[0]
        )


def test_simulated_participants_leave_their_menu_choices_like_the_ivr(db, room, clock, settings):
    with db.session() as s:
        make_deliveries(s, make_action(s, room), 60)
        s.commit()
    profile = SimulatorSettings(
        answer_rate=1,
        busy_rate=0,
        no_answer_rate=0,
        failure_rate=0,
        machine_rate=0,
        ring_mean_s=2,
        listen_mean_s=5,
        seed=11,
    )
    worker, network = simulated_worker(db, clock, settings, profile=profile, simulate_ivr=True)
    run_until_done(worker, network, clock, db)
    with db.session() as s:
        rows = s.scalars(select(Delivery)).all()
    by_choice = {r.menu_choices for r in rows}
    assert "3" in by_choice and "" in by_choice
    assert all(r.acknowledged == r.menu_choices.endswith("3") for r in rows)
    assert all(r.transfer_requested == ("2" in r.menu_choices) for r in rows)
    assert all(r.opt_out_requested == r.menu_choices.startswith("91") for r in rows)


def test_events_survive_a_database_failure(db, room, clock, settings, monkeypatch):
    worker, network = simulated_worker(db, clock, settings)
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        s.commit()
    assert worker.tick().placed == 1
    clock.advance(60)
    network.pump(clock.now())
    waiting = worker.pending_events
    assert waiting >= 2

    def locked(session, event, delivery=None):
        raise OperationalError("UPDATE delivery", {}, Exception("database is locked"))

    monkeypatch.setattr(worker, "_apply_one", locked)
    try:
        worker.apply_events()
    except OperationalError:
        pass
    else:
        raise AssertionError("the failure must reach the scheduler's log")
    assert worker.pending_events == waiting
    monkeypatch.undo()
    worker.submit(CallEvent(delivery_id=row.id, type=CallEventType.DTMF, provider="simulator"))
    assert worker.apply_events() == waiting + 1
    with db.session() as s:
        assert s.get(Delivery, row.id).state not in (S.QUEUED, S.DIALING)


def test_a_new_trunk_paces_under_the_providers_own_cps(db, settings):
    """A Twilio account allows fewer calls per second than the dialer setting: the lower wins."""

    class CappedProvider:
        name = "capped-provider"
        max_cps = 1.0

    class PlainProvider:
        name = "plain-provider"

    assert ensure_trunk(db, "capped", CappedProvider(), settings).cps == 1.0
    assert ensure_trunk(db, "plain", PlainProvider(), settings).cps == settings.dialer.cps


class WatchingSender:
    """Looks at the row, as another process would see it, while the message is handed over."""

    def __init__(self, db, on_send=None):
        self.db = db
        self.on_send = on_send
        self.seen: list[tuple] = []

    def send(self, message):
        with self.db.session() as s:
            row = s.scalars(select(Delivery).where(Delivery.target == message.to)).one()
            self.seen.append((row.state, row.claimed_by, row.attempts))
            row_id = row.id
        if self.on_send:
            self.on_send(row_id)
        return SendResult(provider="test", provider_id=f"SM{row_id}")


def test_a_message_is_sending_once_claimed_and_sent_after(db, room, clock, settings):
    with db.session() as s:
        action = make_action(s, room)
        (row,) = make_deliveries(s, action, 1, channel=Channel.SMS, prefix="+3161")
        s.commit()
        row_id, action_id = row.id, action.id

    def end_the_action_meanwhile(_row_id):
        with db.session() as s:
            end_action(s, s.get(Action, action_id), None, "found", "", clock, settings)

    sender = WatchingSender(db, on_send=end_the_action_meanwhile)
    worker = DialerWorker(db, RefusingNetwork(), clock, settings, senders={"sms": sender}, worker_id="w")
    assert worker.send_messages() == 1
    # The claim is a committed transition before the hand-over, and ending the action does not
    # cancel a message that is already on its way.
    assert sender.seen == [(S.SENDING, "w", 1)]
    with db.session() as s:
        row = s.get(Delivery, row_id)
        assert (row.state, row.claimed_by, row.provider_id) == (S.SENT, None, f"SM{row_id}")
        steps = s.execute(
            select(DeliveryEvent.event, DeliveryEvent.from_state, DeliveryEvent.to_state)
            .where(DeliveryEvent.delivery_id == row_id)
            .order_by(DeliveryEvent.id)
        ).all()
    assert [tuple(step) for step in steps] == [
        ("dialer.claimed", "queued", "sending"),
        ("message.sent", "sending", "sent"),
    ]


def test_a_delivery_report_may_overtake_the_worker(db, room, clock, settings):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1, channel=Channel.SMS, prefix="+3161")
        s.commit()
        row_id = row.id

    def report_delivered(delivery_id):
        with db.transaction() as s:
            assert apply_message_status(s, s.get(Delivery, delivery_id), "delivered", clock)

    worker = DialerWorker(
        db,
        RefusingNetwork(),
        clock,
        settings,
        senders={"sms": WatchingSender(db, on_send=report_delivered)},
        worker_id="w",
    )
    assert worker.send_messages() == 1
    with db.session() as s:
        row = s.get(Delivery, row_id)
        assert (row.state, row.provider_id) == (S.DELIVERED, f"SM{row_id}")


def test_the_pacing_loop_wakes_on_events_outlives_a_failed_tick_and_stops(db, room, clock, settings):
    settings.dialer.poll_interval_s = 60  # only an event (or the stop) ends a wait
    worker, _network = simulated_worker(db, clock, settings)
    ticks: list[float] = []
    real_tick = worker.tick

    def tick():
        ticks.append(time.monotonic())
        if len(ticks) == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        return real_tick()

    worker.tick = tick
    loop = PacingLoop(worker).start()
    try:
        assert wait_for(lambda: len(ticks) == 1)
        assert loop.running  # the failed tick was logged, the loop goes on
        worker.submit(
            CallEvent(delivery_id=1, type=CallEventType.RINGING, provider="simulator", at=clock.now())
        )
        assert wait_for(lambda: len(ticks) == 2)  # woken by the event, not after 60 s
    finally:
        started = time.monotonic()
        loop.stop()
    assert time.monotonic() - started < 5 and not loop.running and not worker.started


def wait_for(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_the_loop_gives_up_when_no_tick_completes_for_max_outage_s(db, room, clock, settings):
    settings.dialer.poll_interval_s, settings.dialer.retry_backoff_max_s = 0.05, 0.1
    settings.dialer.max_outage_s, settings.dialer.heartbeat_interval_s = 0.5, 0.05
    worker, _network = simulated_worker(db, clock, settings)
    failures: list[float] = []

    def database_away():
        failures.append(time.monotonic())
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    worker.tick = database_away
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    runner.start()
    runner.join(20)
    stop.set()
    assert not runner.is_alive() and not worker.started  # it returned by itself, backend stopped
    assert worker.gave_up and "server closed the connection" in worker.gave_up
    assert len(failures) >= 3  # retried meanwhile
    (beat,) = recent(db)
    assert beat.status == "degraded" and beat.detail["reason"] == "database unreachable"
