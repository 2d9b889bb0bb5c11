"""The dialer's durable jobs, on APScheduler 3.

The pacing loop is not one of them: `DialerWorker.run` paces the calls (in a thread of its own,
`dialer.worker.PacingLoop`), the same loop in production and in the end-to-end tests. It also
picks up retries when their `next_attempt_at` comes (retries are rows, not jobs or sleeping
threads).

The durable jobs live in the persistent SQLAlchemyJobStore (table `apscheduler_jobs`): the
outcome message after an action ends, the automatic end of stale actions, the nightly retention
purge. They are plain functions found by reference; `bind()` gives them this process's
database, settings and clock. Each is idempotent, so a restart that runs one late, or two
dialer processes that both run it, change nothing twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.end import end_action, outcome_due_at, plan_outcome_messages
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.database import Database
from db.models import Action, ActionStatus, Outcome
from participants.retention import purge

logger = logging.getLogger(__name__)

PERSISTENT = "persistent"
JOB_TABLE = "apscheduler_jobs"
STALE_NOTE = "Automatisch beëindigd: de actie liep langer dan {hours} uur."


# --- the work, testable without a scheduler ---------------------------------------------------


def send_due_outcome_messages(session: Session, clock: Clock, settings: Settings) -> int:
    """Queue the outcome message of every ended action whose delay has passed."""
    now = clock.now()
    queued = 0
    for action in session.scalars(
        select(Action).where(
            Action.status == ActionStatus.ENDED, Action.outcome_sent_at.is_(None), Action.outcome.is_not(None)
        )
    ).all():
        due = outcome_due_at(action, settings)
        if due is not None and due <= now:
            queued += plan_outcome_messages(session, action, clock, settings)
    return queued


def end_stale_actions(session: Session, clock: Clock, settings: Settings) -> list[int]:
    """End actions that have run longer than `settings.dialer.stale_action_hours`."""
    hours = settings.dialer.stale_action_hours
    cutoff = clock.now() - timedelta(hours=hours)
    ended = []
    for action in session.scalars(
        select(Action).where(Action.status == ActionStatus.RUNNING, Action.started_at < cutoff)
    ).all():
        end_action(
            session, action, None, Outcome.NO_RESULT.value, STALE_NOTE.format(hours=hours), clock, settings
        )
        ended.append(action.id)
    return ended


# --- the jobs (found by reference, so they survive a restart) ----------------------------------


@dataclass
class _Bound:
    db: Database
    settings: Settings
    clock: Clock


_bound: _Bound | None = None
_bind_lock = threading.Lock()


def bind(db: Database, settings: Settings, clock: Clock) -> None:
    """Give the persistent jobs this process's database, settings and clock."""
    global _bound
    with _bind_lock:
        _bound = _Bound(db, settings, clock)


def _context() -> _Bound:
    if _bound is None:
        raise RuntimeError("dialer jobs ran before dialer.jobs.bind()")
    return _bound


def outcome_messages_job() -> None:
    ctx = _context()
    with ctx.db.session() as session:
        count = send_due_outcome_messages(session, ctx.clock, ctx.settings)
    if count:
        log_event(logger, "job.outcome_messages", deliveries=count)


def stale_actions_job() -> None:
    ctx = _context()
    with ctx.db.session() as session:
        ended = end_stale_actions(session, ctx.clock, ctx.settings)
    if ended:
        log_event(logger, "job.stale_actions_ended", actions=ended)


def retention_purge_job() -> None:
    ctx = _context()
    with ctx.db.session() as session:
        report = purge(session, ctx.clock, ctx.settings)
        session.commit()
    log_event(logger, "job.retention_purge", report=repr(report))


def build_scheduler(db: Database, settings: Settings, clock: Clock) -> BackgroundScheduler:
    """A scheduler with the durable jobs (not started)."""
    bind(db, settings, clock)
    scheduler = BackgroundScheduler(
        jobstores={PERSISTENT: SQLAlchemyJobStore(engine=db.engine, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=settings.timezone,
    )
    scheduler.add_job(
        "dialer.jobs:outcome_messages_job",
        "interval",
        seconds=15,
        id="dialer.outcome_messages",
        jobstore=PERSISTENT,
        replace_existing=True,
    )
    scheduler.add_job(
        "dialer.jobs:stale_actions_job",
        "interval",
        minutes=5,
        id="dialer.stale_actions",
        jobstore=PERSISTENT,
        replace_existing=True,
    )
    scheduler.add_job(
        "dialer.jobs:retention_purge_job",
        "cron",
        hour=3,
        minute=30,
        id="dialer.retention_purge",
        jobstore=PERSISTENT,
        replace_existing=True,
    )
    return scheduler
