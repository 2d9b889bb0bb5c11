"""`burgernet action start|progress|end` for scripted use, the scheduler's job set, and the
dialer process's pacing loop."""

from __future__ import annotations

import json
import threading

from sqlalchemy import inspect, text

from app import cli
from bench.dialer import CENTRE, seed_population
from db.models import Action, ActionStatus
from dialer.cli import BackgroundDialer
from dialer.jobs import JOB_TABLE, PERSISTENT, build_scheduler
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


def test_scheduler_persists_the_durable_jobs_and_leaves_pacing_to_the_loop(db, room, clock, settings):
    scheduler = build_scheduler(db, settings, clock)
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job("dialer.pacing") is None  # DialerWorker.run paces
        durable = {job.id for job in scheduler.get_jobs(jobstore=PERSISTENT)}
        assert durable == {"dialer.outcome_messages", "dialer.stale_actions", "dialer.retention_purge"}
        assert {job.id for job in scheduler.get_jobs()} == durable
        assert JOB_TABLE in inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            stored = set(conn.execute(text(f"SELECT id FROM {JOB_TABLE}")).scalars())
        assert stored == durable
    finally:
        scheduler.shutdown(wait=False)


def test_the_background_dialer_runs_the_one_pacing_loop(db, room, settings, monkeypatch):
    """`burgernet dialer run` and `serve` in training mode: the loop is DialerWorker.run."""
    ran = threading.Event()
    real_run = DialerWorker.run

    def watched_run(worker, stop):
        ran.set()
        real_run(worker, stop)

    monkeypatch.setattr(DialerWorker, "run", watched_run)
    settings.phone_backend = "simulator"
    dialer = BackgroundDialer(db, settings, durable_jobs=False)
    assert dialer.scheduler is None
    dialer.start()
    try:
        assert ran.wait(5) and dialer.loop.running
    finally:
        dialer.stop()
    assert not dialer.loop.running and not dialer.worker.started
