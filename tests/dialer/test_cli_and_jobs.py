"""`burgernet action start|progress|end` for scripted use, the cluster scheduler's lease and
jobs, and the dialer process's pacing loop."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from dialer_fixtures import make_action
from sqlalchemy import inspect, select

from actions.end import end_action
from app import cli
from bench.dialer import CENTRE, seed_population
from config.clock import FakeClock
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Lease,
    Outcome,
)
from dialer.cli import BackgroundDialer
from dialer.jobs import JOBS, PURGE_RECORD, last_purge_slot, retention_purge_job
from dialer.leadership import SCHEDULER_LEASE, ClusterScheduler, LeaseKeeper
from dialer.worker import DialerWorker
from tests.support.cli import cli_runner


def test_action_commands(app, db, room, settings):
    seed_population(db, 200, seed=5)
    runner = cli_runner(app)
    result = runner.invoke(
        cli,
        args=[
            "action",
            "start",
            "--lat",
            str(CENTRE[0]),
            "--lon",
            str(CENTRE[1]),
            "--radius",
            "1200",
            "--type",
            "missing_child",
            "--description",
            '{"age": 8, "clothing": "blauwe jas"}',
            "--urgent-recent",
            "--clear-description",
            "--family-consent",
        ],
    )
    assert result.exit_code == 0, result.output
    started = json.loads(result.output.strip().splitlines()[-1])
    assert started["deliveries"] > 10 and started["held"] == 0  # urgent: never held
    progress = runner.invoke(cli, args=["action", "progress", "--id", str(started["action_id"])])
    assert json.loads(progress.output)["total"] == started["deliveries"]
    ended = runner.invoke(
        cli,
        args=[
            "action",
            "end",
            "--id",
            str(started["action_id"]),
            "--outcome",
            "found",
            "--note",
            "Het kind is gevonden.",
        ],
    )
    assert ended.exit_code == 0, ended.output
    with db.session() as s:
        action = s.get(Action, started["action_id"])
        assert action.status == ActionStatus.ENDED and action.outcome.value == "found"
    again = runner.invoke(
        cli, args=["action", "end", "--id", str(started["action_id"]), "--outcome", "found"]
    )
    assert again.exit_code != 0 and "lopende actie" in again.output
    bad = runner.invoke(
        cli,
        args=[
            "action",
            "start",
            "--lat",
            "52",
            "--lon",
            "4.3",
            "--type",
            "suspect",
            "--description",
            "{not json",
        ],
    )
    assert bad.exit_code != 0 and "JSON" in bad.output


def test_one_lease_holder_at_a_time_and_a_successor_after_expiry(db):
    clock = FakeClock()
    first = LeaseKeeper(db, "scheduler", ttl_s=15, holder="first", clock=clock)
    second = LeaseKeeper(db, "scheduler", ttl_s=15, holder="second", clock=clock)
    assert first.hold() and not second.hold()
    clock.advance(10)
    assert first.hold() and not second.hold()  # renewed: 15 s from now
    clock.advance(14)
    assert not second.hold()
    clock.advance(2)  # the first stopped renewing 16 s ago
    assert second.hold() and not first.hold()
    second.release()
    assert first.hold()
    with db.session() as s:
        assert s.get(Lease, "scheduler").holder == "first"


def test_only_the_leader_runs_the_jobs_and_a_database_error_does_not_stop_it(db, room, settings):
    clock = FakeClock(datetime.now(UTC))
    settings.dialer.outcome_delay_s = 0
    with db.session() as s:
        action = make_action(s, room, clock=clock)
        s.add(
            Delivery(
                action_id=action.id,
                kind=DeliveryKind.ALERT,
                channel=Channel.SMS,
                target="+31612345678",
                rank=0,
                priority=60,
                state=DeliveryState.DELIVERED,
            )
        )
        s.commit()
        end_action(s, action, None, Outcome.FOUND.value, "Gevonden.", clock, settings)
    leader = ClusterScheduler(db, settings, clock, holder="leader")
    follower = ClusterScheduler(db, settings, clock, holder="follower")
    assert set(leader.step()) == {job.name for job in JOBS} and leader.leading
    assert follower.step() == [] and not follower.leading
    with db.session() as s:
        assert s.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.OUTCOME)).all()
        assert s.get(Lease, PURGE_RECORD).acquired_at == clock.now()  # the purge's last run

    broken = ClusterScheduler(db, settings, clock, holder="leader")
    broken.jobs = (JOBS[0].__class__("boom", _fail, 1.0), *JOBS)
    assert "outcome_messages" in broken.step()  # the failing job is logged, the others ran
    real_hold = broken.lease.hold
    broken.lease.hold = _fail
    assert broken.step() == [] and not broken.leading  # a failed renewal: no jobs, no crash
    broken.lease.hold = real_hold
    assert broken.step() and broken.leading


def _fail(*_args):
    raise RuntimeError("database unreachable")


def test_the_purge_runs_once_a_night_whoever_leads(db, settings):
    night = datetime(2026, 11, 29, 2, 40, tzinfo=UTC)  # 03:40 in Amsterdam
    clock = FakeClock(night)
    assert last_purge_slot(night, "Europe/Amsterdam") == night - timedelta(minutes=10)
    retention_purge_job(db, settings, clock)
    with db.session() as s:
        first = s.get(Lease, PURGE_RECORD).acquired_at
    clock.advance(3600)
    retention_purge_job(db, settings, clock)  # another leader, the same night: nothing again
    with db.session() as s:
        assert s.get(Lease, PURGE_RECORD).acquired_at == first
    clock.advance(24 * 3600)
    retention_purge_job(db, settings, clock)
    with db.session() as s:
        assert s.get(Lease, PURGE_RECORD).acquired_at == clock.now()
    assert "apscheduler_jobs" not in inspect(db.engine).get_table_names()
    assert SCHEDULER_LEASE == "scheduler"


def test_the_background_dialer_runs_the_one_pacing_loop(db, room, settings, monkeypatch):
    """`burgernet dialer run` and `serve` in training mode: the loop is DialerWorker.run."""
    ran = threading.Event()
    real_run = DialerWorker.run

    def watched_run(worker, stop):
        ran.set()
        real_run(worker, stop)

    monkeypatch.setattr(DialerWorker, "run", watched_run)
    settings.phone_backend = "simulator"
    dialer = BackgroundDialer(db, settings)
    assert dialer.scheduler is None  # the jobs run in `scheduler run`, or with --with-scheduler
    dialer.start()
    try:
        assert ran.wait(5) and dialer.loop.running
    finally:
        dialer.stop()
    assert not dialer.loop.running and not dialer.worker.started
