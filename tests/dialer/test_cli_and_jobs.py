"""`burgernet action start|progress|end` for scripted use, and the scheduler's job set."""
from __future__ import annotations

import json

from sqlalchemy import inspect
from stepped_wave import simulated_worker

from bench.dialer import CENTRE, seed_population
from db.models import Action, ActionStatus
from dialer.jobs import JOB_TABLE, PERSISTENT, build_scheduler
from tests.support.cli import cli_runner


def test_action_commands(app, db, room, settings):
    from app import cli

    seed_population(db, 200, seed=5)
    runner = cli_runner(app)
    result = runner.invoke(cli, args=[
        "action", "start", "--lat", str(CENTRE[0]), "--lon", str(CENTRE[1]), "--radius", "1200",
        "--type", "missing_child", "--description", '{"age": 8, "clothing": "blauwe jas"}',
        "--urgent-recent", "--clear-description", "--family-consent"])
    assert result.exit_code == 0, result.output
    started = json.loads(result.output.strip().splitlines()[-1])
    assert started["deliveries"] > 10 and started["held"] == 0  # urgent: never held
    progress = runner.invoke(cli, args=["action", "progress", "--id", str(started["action_id"])])
    assert json.loads(progress.output)["total"] == started["deliveries"]
    ended = runner.invoke(cli, args=["action", "end", "--id", str(started["action_id"]),
                                "--outcome", "found", "--note", "Het kind is gevonden."])
    assert ended.exit_code == 0, ended.output
    with db.session() as s:
        action = s.get(Action, started["action_id"])
        assert action.status == ActionStatus.ENDED and action.outcome.value == "found"
    again = runner.invoke(cli, args=["action", "end", "--id", str(started["action_id"]),
                                "--outcome", "found"])
    assert again.exit_code != 0 and "lopende actie" in again.output
    bad = runner.invoke(cli, args=["action", "start", "--lat", "52", "--lon", "4.3", "--type",
                              "suspect", "--description", "{not json"])
    assert bad.exit_code != 0 and "JSON" in bad.output


def test_scheduler_has_the_pacing_loop_and_persists_the_durable_jobs(db, room, clock, settings):
    worker, _network = simulated_worker(db, clock, settings)
    scheduler = build_scheduler(worker, db, settings, clock)
    scheduler.start(paused=True)
    try:
        pacing = scheduler.get_job("dialer.pacing")
        assert pacing.max_instances == 1 and pacing.coalesce
        durable = {job.id for job in scheduler.get_jobs(jobstore=PERSISTENT)}
        assert durable == {"dialer.outcome_messages", "dialer.stale_actions",
                           "dialer.retention_purge"}
        assert JOB_TABLE in inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            from sqlalchemy import text

            stored = set(conn.execute(text(f"SELECT id FROM {JOB_TABLE}")).scalars())
        assert stored == durable
    finally:
        scheduler.shutdown(wait=False)
