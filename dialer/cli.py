"""`burgernet dialer run`: the long-running dialer worker (one per trunk or PBX).

Errors end with a line on stderr and a non-zero exit status (click.ClickException).
"""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
from pathlib import Path
from typing import TextIO

import click

from config.logging import configure_logging, log_event
from config.settings import Settings
from db.database import Database
from db.runtime import current_db, current_settings
from dialer.jobs import build_scheduler
from dialer.wiring import build_worker
from dialer.worker import PacingLoop

logger = logging.getLogger(__name__)

dialer_group = click.Group("dialer", help="The power dialer.")


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
    """The pacing loop (`PacingLoop`, i.e. `DialerWorker.run`) and, if asked, the durable jobs."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        trunk_name: str | None = None,
        worker_id: str | None = None,
        call_log: Path | None = None,
        durable_jobs: bool = True,
    ):
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run otherwise
        self.lock = SqliteDialerLock(db) if db.is_sqlite else None
        if self.lock:
            self.lock.acquire()
        self.worker = build_worker(
            db, settings, trunk_name=trunk_name, worker_id=worker_id, call_log=call_log
        )
        self.loop = PacingLoop(self.worker)
        self.scheduler = build_scheduler(db, settings, self.worker.clock) if durable_jobs else None

    def start(self) -> None:
        self.loop.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.loop.stop()
        if self.lock:
            self.lock.release()


def start_background_dialer(db: Database, settings: Settings) -> BackgroundDialer:
    """For `burgernet serve` in training mode: the wave runs from the web console out of the box."""
    dialer = BackgroundDialer(db, settings)
    dialer.start()
    log_event(logger, "dialer.background_started", worker=dialer.worker.worker_id)
    return dialer


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
    "--no-jobs", is_flag=True, help="Only the pacing loop, for a second dialer process on PostgreSQL."
)
def run_dialer(trunk_name, worker_id, call_log, no_jobs) -> None:
    """Run the dialer worker until SIGTERM or Ctrl-C."""
    configure_logging()
    settings = current_settings()
    db = current_db()
    dialer = BackgroundDialer(
        db, settings, trunk_name=trunk_name, worker_id=worker_id, call_log=call_log, durable_jobs=not no_jobs
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
            pass
    finally:
        dialer.stop()
