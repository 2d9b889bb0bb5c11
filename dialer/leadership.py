"""Leadership of the cluster-wide jobs: one `lease` row, one leader, a successor when it dies.

`LeaseKeeper.hold()` takes or renews the named lease in ONE conditional UPDATE: it succeeds when
the lease is free, expired or already ours, and moves `expires_at` a lease length ahead. The
holder renews every few seconds; a holder that dies (kill -9, a lost machine) stops renewing and
another process takes the lease once it has expired. Times come from the process's clock (the
hosts keep NTP time; the lease length, ~15 s, is far above any skew).

`ClusterScheduler` is the one scheduler of the cluster (`burgernet scheduler run`; several may
run, one leads): every `scheduler_renew_s` it renews the lease and, while it leads, runs the jobs
of `dialer.jobs` whose interval has passed. A database error in a renewal or a job is logged and
the loop carries on (the old APScheduler job store died on one, issue 19); the heartbeat says
whether this process leads.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import case, or_, update
from sqlalchemy.exc import IntegrityError

from config.clock import Clock, SystemClock
from config.logging import log_event
from config.settings import Settings
from db.database import Database, rows_changed
from db.heartbeats import Heartbeat
from db.models import Lease
from dialer.jobs import JOBS, Job

logger = logging.getLogger(__name__)

SCHEDULER_LEASE = "scheduler"


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseKeeper:
    def __init__(
        self, db: Database, name: str, *, ttl_s: float, holder: str | None = None, clock: Clock | None = None
    ):
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive length")
        self.db = db
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or default_holder()
        self.clock = clock or SystemClock()

    def hold(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = self.clock.now()
        statement = (
            update(Lease)
            .where(
                Lease.name == self.name,
                or_(Lease.holder.is_(None), Lease.holder == self.holder, Lease.expires_at < now),
            )
            .values(
                holder=self.holder,
                expires_at=now + timedelta(seconds=self.ttl_s),
                acquired_at=case((Lease.holder == self.holder, Lease.acquired_at), else_=now),
            )
        )
        with self.db.session() as session:
            changed = rows_changed(session, statement)
            if changed:
                session.commit()
                return True
            if session.get(Lease, self.name) is not None:
                return False  # held by another process, not expired
            session.add(
                Lease(
                    name=self.name,
                    holder=self.holder,
                    acquired_at=now,
                    expires_at=now + timedelta(seconds=self.ttl_s),
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another process created it first: it holds it
                session.rollback()
                return False
            return True

    def release(self) -> None:
        """Give the lease up at a clean exit, so a successor need not wait for it to expire."""
        with self.db.session() as session:
            session.execute(
                update(Lease)
                .where(Lease.name == self.name, Lease.holder == self.holder)
                .values(holder=None, expires_at=None)
            )
            session.commit()


class ClusterScheduler:
    """Runs the cluster-wide jobs while it holds the `scheduler` lease."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock | None = None,
        *,
        holder: str | None = None,
        jobs: tuple[Job, ...] = JOBS,
    ):
        self.db = db
        self.settings = settings
        self.clock = clock or SystemClock()
        self.jobs = jobs
        self.lease = LeaseKeeper(
            db, SCHEDULER_LEASE, ttl_s=settings.dialer.scheduler_lease_s, holder=holder, clock=self.clock
        )
        self.heartbeat = Heartbeat(db, "scheduler")
        self.leading = False
        self.lease_error: str | None = None
        self._next_run: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holder(self) -> str:
        return self.lease.holder

    def step(self) -> list[str]:
        """Renew the lease and, while leading, run the due jobs; returns the jobs that ran."""
        try:
            leading = self.lease.hold()
            self.lease_error = None
        except Exception as exc:  # the database away: no job can run now anyway
            leading = False
            self.lease_error = repr(exc)[:300]
            log_event(logger, "scheduler.lease_failed", logging.ERROR, holder=self.holder, error=repr(exc))
        if leading != self.leading:
            log_event(
                logger,
                "scheduler.leading" if leading else "scheduler.following",
                logging.WARNING if not leading else logging.INFO,
                holder=self.holder,
            )
            self.leading = leading
            self._next_run.clear()  # a new leader looks at every job at once
        ran: list[str] = []
        if leading:
            for job in self.jobs:
                if time.monotonic() < self._next_run.get(job.name, 0.0):
                    continue
                self._next_run[job.name] = time.monotonic() + job.every_s
                try:
                    job.run(self.db, self.settings, self.clock)
                    ran.append(job.name)
                except Exception as exc:  # logged; the job runs again at its next turn
                    log_event(
                        logger,
                        "scheduler.job_failed",
                        logging.ERROR,
                        job=job.name,
                        holder=self.holder,
                        error=repr(exc)[:500],
                    )
        self.beat()
        return ran

    def beat(self, status: str | None = None) -> None:
        detail = {"holder": self.holder, "leading": self.leading}
        if self.lease_error:
            detail["reason"] = "database unreachable"
            detail["error"] = self.lease_error
        try:
            self.heartbeat.beat(status or ("degraded" if self.lease_error else "ok"), **detail)
        except Exception as exc:
            log_event(logger, "scheduler.heartbeat_failed", logging.WARNING, error=repr(exc))

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; gives the lease up on the way out."""
        log_event(logger, "scheduler.started", holder=self.holder)
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.settings.dialer.scheduler_renew_s)
        finally:
            try:
                if self.leading:
                    self.lease.release()
                self.beat("stopped")
            except Exception as exc:
                log_event(logger, "scheduler.release_failed", logging.WARNING, error=repr(exc))
            self.leading = False
            log_event(logger, "scheduler.stopped", holder=self.holder)

    # --- in a thread, beside a dialer (`dialer run --with-scheduler`) ------------------------

    def start(self) -> ClusterScheduler:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
