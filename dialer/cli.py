"""`burgernet dialer run` (the long-running dialer worker; several may share a trunk on
PostgreSQL) and `burgernet scheduler run` (the cluster-wide jobs; several may run, one leads).

Errors end with a line on stderr and a non-zero exit status (click.ClickException). A dialer
whose loop gave up (no tick completed for `dialer.max_outage_s`) exits with status 3, so its
supervisor restarts it.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

import click

from config.logging import configure_logging
from config.settings import Settings
from db.database import Database
from db.runtime import current_db, current_settings, refuse_unless_configured
from dialer.leadership import ClusterScheduler
from dialer.wiring import build_worker
from dialer.worker import PacingLoop

logger = logging.getLogger(__name__)

dialer_group = click.Group("dialer", help="The power dialer.")
scheduler_group = click.Group("scheduler", help="The cluster-wide jobs (one leader at a time).")
GAVE_UP_EXIT = 3


class SqliteDialerLock:
    """On SQLite one dialer runs: an exclusive lock on a file beside the database."""

    def __init__(self, db: Database):
        self.path = Path(f"{db.engine.url.database}.dialer.lock")
        self._file: TextIO | None = None

    def acquire(self) -> None:
        file = self.path.open("w")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise click.ClickException(
                "another dialer already runs on this SQLite database; several dialers need PostgreSQL"
            ) from None
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class BackgroundDialer:
    """The pacing loop (`PacingLoop`, i.e. `DialerWorker.run`) and, if asked, the cluster-wide
    jobs beside it (a `ClusterScheduler` thread, which runs them only while it holds the lease)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        trunk_name: str | None = None,
        worker_id: str | None = None,
        call_log: Path | None = None,
        with_scheduler: bool = False,
    ):
        self.lock = SqliteDialerLock(db) if db.is_sqlite else None
        if self.lock:
            self.lock.acquire()
        self.worker = build_worker(
            db, settings, trunk_name=trunk_name, worker_id=worker_id, call_log=call_log
        )
        self.loop = PacingLoop(self.worker)
        self.scheduler = ClusterScheduler(db, settings) if with_scheduler else None

    def start(self) -> None:
        self.loop.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.loop.stop()
        if self.lock:
            self.lock.release()


@dialer_group.command("run")
@click.option("--trunk", "trunk_name", default=None, help="Trunk name (created if new).")
@click.option("--worker-id", default=None, help="Name of this dialer process in claims.")
@click.option(
    "--call-log",
    type=click.Path(path_type=Path),
    default=None,
    help="Simulator only: append every call placed to this file.",
)
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run the cluster-wide jobs here (single-process setups); else run `scheduler run`.",
)
@click.option("--no-jobs", is_flag=True, hidden=True, help="Accepted and ignored (the default now).")
def run_dialer(trunk_name, worker_id, call_log, with_scheduler, no_jobs) -> None:
    """Run the dialer worker until SIGTERM or Ctrl-C (exit status 3 if its loop gives up)."""
    configure_logging()
    refuse_unless_configured("dialer")
    settings = current_settings()
    db = current_db()
    dialer = BackgroundDialer(
        db,
        settings,
        trunk_name=trunk_name,
        worker_id=worker_id,
        call_log=call_log,
        with_scheduler=with_scheduler,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    dialer.start()
    if settings.training_mode:
        click.echo("TRAININGSMODUS: gesimuleerd telefoonnetwerk, er wordt niemand echt gebeld.")
    click.echo(f"dialer {dialer.worker.worker_id} runs on trunk {dialer.worker.trunk.name}", err=True)
    try:
        while not stop.wait(0.5):
            if not dialer.loop.running:
                break
    finally:
        dialer.stop()
    if dialer.worker.gave_up is not None:
        click.echo(f"dialer gave up: {dialer.worker.gave_up}", err=True)
        sys.exit(GAVE_UP_EXIT)
    if not stop.is_set():
        click.echo("dialer loop ended unexpectedly", err=True)
        sys.exit(1)


@scheduler_group.command("run")
def run_scheduler() -> None:
    """Run the cluster-wide jobs while this process holds the lease, until SIGTERM or Ctrl-C."""
    configure_logging()
    refuse_unless_configured("scheduler")
    scheduler = ClusterScheduler(current_db(), current_settings())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"scheduler {scheduler.holder} runs (the lease holder runs the jobs)", err=True)
    scheduler.run(stop)
