"""`burgernet dialer run` (the long-running worker) and `burgernet action start|end|progress`.

Errors end with a line on stderr and a non-zero exit status (click.ClickException).
"""
from __future__ import annotations

import fcntl
import json
import logging
import signal
import threading
from dataclasses import asdict
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from config.clock import SystemClock
from config.logging import configure_logging, log_event
from config.runtime import current_db, current_settings
from config.settings import Settings
from db.database import Database
from db.models import Action, ActionStatus, ControlRoom, IncidentType, Operator, Outcome
from dialer.jobs import build_scheduler
from dialer.service import ActionError, action_progress, end_action, start_action
from dialer.wiring import build_worker

logger = logging.getLogger(__name__)

dialer_group = AppGroup("dialer", help="The power dialer.")
action_group = AppGroup("action", help="Actions, for scripted use.")


class SqliteDialerLock:
    """On SQLite one dialer runs: an exclusive lock on a file beside the database."""

    def __init__(self, db: Database):
        self.path = Path(db.engine.url.database + ".dialer.lock")
        self._file = None

    def acquire(self) -> None:
        self._file = self.path.open("w")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise click.ClickException(
                "another dialer already runs on this SQLite database; "
                "several dialers need PostgreSQL") from None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class BackgroundDialer:
    """A worker driven by the scheduler's pacing loop, with the durable jobs (if asked)."""

    def __init__(self, db: Database, settings: Settings, *, trunk_name: str | None = None,
                 worker_id: str | None = None, call_log: Path | None = None,
                 durable_jobs: bool = True):
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick otherwise
        self.lock = SqliteDialerLock(db) if db.is_sqlite else None
        if self.lock:
            self.lock.acquire()
        self.worker = build_worker(db, settings, trunk_name=trunk_name, worker_id=worker_id,
                                   call_log=call_log)
        self.scheduler = build_scheduler(self.worker, db, settings, self.worker.clock)
        if not durable_jobs:
            for job in self.scheduler.get_jobs(jobstore="persistent"):
                job.remove()

    def start(self) -> None:
        self.worker.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.worker.stop()
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
@click.option("--call-log", type=click.Path(path_type=Path), default=None,
              help="Simulator only: append every call placed to this file.")
@click.option("--no-jobs", is_flag=True,
              help="Only the pacing loop, for a second dialer process on PostgreSQL.")
def run_dialer(trunk_name, worker_id, call_log, no_jobs) -> None:
    """Run the dialer worker until SIGTERM or Ctrl-C."""
    configure_logging()
    settings = current_settings()
    db = current_db()
    dialer = BackgroundDialer(db, settings, trunk_name=trunk_name, worker_id=worker_id,
                              call_log=call_log, durable_jobs=not no_jobs)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    dialer.start()
    if settings.training_mode:
        click.echo("TRAININGSMODUS: gesimuleerd telefoonnetwerk, er wordt niemand echt gebeld.")
    click.echo(f"dialer {dialer.worker.worker_id} runs on trunk {dialer.worker.trunk.name}",
               err=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        dialer.stop()


def _control_room(session, room: str | None) -> ControlRoom:
    query = select(ControlRoom).order_by(ControlRoom.id)
    if room:
        query = query.where((ControlRoom.name == room) | (ControlRoom.id == (
            int(room) if room.isdigit() else -1)))
    found = session.scalars(query).first()
    if found is None:
        raise click.ClickException(f"no control room {room!r}" if room else
                                   "no control room configured (seed one first)")
    return found


def parse_description(text: str) -> tuple[dict, str]:
    """A JSON object is the structured description; any other text is free text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"description is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise click.BadParameter("description JSON must be an object")
        return value, ""
    return {}, stripped


@action_group.command("start")
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--radius", type=int, default=None, help="Metres; default by incident type.")
@click.option("--type", "incident_type", required=True,
              type=click.Choice([t.value for t in IncidentType]))
@click.option("--description", required=True,
              help="Structured description as a JSON object, or free text.")
@click.option("--room", default=None, help="Control room name or id (default: the first).")
@click.option("--operator", "username", default=None, help="Username of the centralist.")
@click.option("--channels", default="", help="Comma-separated: voice,sms,email (default all).")
def start_action_command(lat, lon, radius, incident_type, description, room, username,
                         channels) -> None:
    """Start an action and plan its wave; prints the action as one JSON line."""
    settings = current_settings()
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.BadParameter("latitude/longitude out of range")
    radius = radius or settings.radius_by_incident.get(incident_type, 1000)
    if radius <= 0:
        raise click.BadParameter("radius must be positive")
    chosen = [c.strip() for c in channels.split(",") if c.strip()]
    if any(c not in ("voice", "sms", "email") for c in chosen):
        raise click.BadParameter("channels are voice, sms and email")
    structured, free_text = parse_description(description)
    clock = SystemClock()
    with current_db().session() as session:
        operator = None
        if username:
            operator = session.scalars(select(Operator).where(Operator.username == username)).first()
            if operator is None:
                raise click.ClickException(f"no operator {username!r}")
        control_room = operator.control_room if operator else _control_room(session, room)
        action = Action(control_room_id=control_room.id, incident_type=IncidentType(incident_type),
                        description=structured, free_text=free_text, lat=lat, lon=lon,
                        radius_m=radius, channels=chosen, status=ActionStatus.DRAFT,
                        created_by_id=operator.id if operator else None)
        session.add(action)
        session.flush()
        try:
            start_action(session, action, operator, clock, settings)
        except ActionError as exc:
            raise click.ClickException(f"{exc} ({exc.user_message})") from exc
        except ValueError as exc:  # prompts' domain errors (a description too thin, ...)
            raise click.ClickException(str(exc)) from exc
        progress = action_progress(session, action.id, clock, settings)
    click.echo(json.dumps({"action_id": action.id, "deliveries": progress.total,
                           "held": progress.held, "by_channel": progress.by_channel}))


@action_group.command("end")
@click.option("--id", "action_id", type=int, required=True)
@click.option("--outcome", required=True, type=click.Choice([o.value for o in Outcome]))
@click.option("--note", default="")
@click.option("--operator", "username", default=None)
def end_action_command(action_id, outcome, note, username) -> None:
    """End a running action: queued calls are cancelled, the outcome message follows."""
    settings = current_settings()
    with current_db().session() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id}")
        operator = (session.scalars(select(Operator).where(Operator.username == username)).first()
                    if username else None)
        try:
            end_action(session, action, operator, outcome, note, SystemClock(), settings)
        except ActionError as exc:
            raise click.ClickException(f"{exc} ({exc.user_message})") from exc
    click.echo(json.dumps({"action_id": action_id, "status": "ended", "outcome": outcome}))


@action_group.command("progress")
@click.option("--id", "action_id", type=int, required=True)
def progress_command(action_id) -> None:
    """Counts by state and channel, as one JSON line."""
    with current_db().session() as session:
        try:
            progress = action_progress(session, action_id, SystemClock(), current_settings())
        except ActionError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(asdict(progress)))
