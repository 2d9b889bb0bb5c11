"""The cluster-wide jobs: outcome messages, the end of stale actions, the nightly retention purge,
and in training mode the simulated participants who call back (dialer.simulated_callbacks).

They run once for the whole cluster, in the process that holds the `scheduler` lease
(`dialer.leadership.ClusterScheduler`: `burgernet scheduler run`, or `dialer run
--with-scheduler` on a single machine). No job store: each job derives what is due from the
database (ended actions without their outcome message, running actions past their age, the
purge's last run kept in a `lease` row), so a restart, a new leader or a job run twice changes
nothing twice. The pacing loop is not a job: `DialerWorker.run` paces the calls and picks up
retries when their `next_attempt_at` comes (retries are rows, not jobs or sleeping threads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.end import end_action, outcome_due_at, plan_outcome_messages
from callback_line.queue import close_stale
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.database import Database
from db.models import Action, ActionStatus, Lease, Outcome
from dialer.simulated_callbacks import simulated_callbacks_job
from ivr.callback_flow import QUEUE_MAX_WAIT_S
from participants.retention import purge

logger = logging.getLogger(__name__)

STALE_NOTE = "Automatisch beëindigd: de actie liep langer dan {hours} uur."
PURGE_AT = (3, 30)  # local time of the nightly retention purge
PURGE_RECORD = "job:retention_purge"  # a lease row whose acquired_at is the purge's last run


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


def last_purge_slot(now: datetime, timezone: str) -> datetime:
    """The latest 03:30 local time at or before `now` (aware UTC)."""
    local = now.astimezone(ZoneInfo(timezone))
    slot = local.replace(hour=PURGE_AT[0], minute=PURGE_AT[1], second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    return slot.astimezone(now.tzinfo)


def purge_last_run(session: Session) -> datetime | None:
    record = session.get(Lease, PURGE_RECORD)
    return record.acquired_at if record is not None else None


def retention_purge_due(session: Session, clock: Clock, settings: Settings) -> bool:
    last = purge_last_run(session)
    return last is None or last < last_purge_slot(clock.now(), settings.timezone)


# --- the jobs, as the scheduler runs them -------------------------------------------------------


def outcome_messages_job(db: Database, settings: Settings, clock: Clock) -> None:
    with db.session() as session:
        count = send_due_outcome_messages(session, clock, settings)
    if count:
        log_event(logger, "job.outcome_messages", deliveries=count)


def stale_actions_job(db: Database, settings: Settings, clock: Clock) -> None:
    with db.session() as session:
        ended = end_stale_actions(session, clock, settings)
    if ended:
        log_event(logger, "job.stale_actions_ended", actions=ended)


def retention_purge_job(db: Database, settings: Settings, clock: Clock) -> None:
    """The nightly purge, once per night whoever leads: its last run is kept in the database."""
    with db.session() as session:
        if not retention_purge_due(session, clock, settings):
            return
        report = purge(session, clock, settings)
        record = session.get(Lease, PURGE_RECORD)
        if record is None:
            session.add(Lease(name=PURGE_RECORD, holder=None, acquired_at=clock.now()))
        else:
            record.acquired_at = clock.now()
        try:
            session.commit()
        except IntegrityError:  # another process recorded a run meanwhile: it purged too
            session.rollback()
    log_event(logger, "job.retention_purge", report=repr(report))


def stale_callback_calls_job(db: Database, settings: Settings, clock: Clock) -> None:
    """Calls to the call-back line whose IVR connection was lost mid-call (the FastAGI server
    restarted) end as missed callers: on the call-back list, never lost."""
    with db.session() as session:
        closed = close_stale(session, clock.now(), QUEUE_MAX_WAIT_S)
    if closed:
        log_event(logger, "job.callback_calls_closed", calls=closed)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Database, Settings, Clock], None]
    every_s: float  # how often the leader looks; the job itself decides from the database


JOBS = (
    Job("outcome_messages", outcome_messages_job, 15.0),
    Job("stale_actions", stale_actions_job, 300.0),
    Job("retention_purge", retention_purge_job, 60.0),
    # Training mode only: simulated participants phone the call-back line (a no-op otherwise).
    Job("simulated_callbacks", simulated_callbacks_job, 3.0),
    Job("stale_callback_calls", stale_callback_calls_job, 60.0),
)
