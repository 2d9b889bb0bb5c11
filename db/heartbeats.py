"""Process heartbeats: each long-running process says it is alive, and how it is doing.

A dialer, the FastAGI server, the scheduler and each web worker call `Heartbeat.beat()` every
few seconds (from their own loop, so a stalled loop stops beating); `/readyz` and the admin
status page read `recent()`. A beat that fails (the database away) is logged by the caller's
loop and never raised past it: the heartbeat reports on the process, it must not stop it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from config.clock import utcnow
from db.database import Database
from db.models import ProcessHeartbeat

ROLES = ("web", "dialer", "ivr", "scheduler")
STALE_AFTER_S = 30.0  # a process that has not beaten for this long counts as gone


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    role: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    status: str
    detail: dict
    alive: bool


class Heartbeat:
    """The heartbeat row of this process (created on the first beat)."""

    def __init__(self, db: Database, role: str, *, suffix: str | None = None):
        if role not in ROLES:
            raise ValueError(f"unknown process role {role!r}")
        self.db = db
        self.role = role
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = f"{role}:{self.host}:{self.pid}" + (f":{suffix}" if suffix else "")
        self.started_at = utcnow()

    def beat(self, status: str = "ok", **detail) -> None:
        now = utcnow()
        with self.db.session() as session:
            changed = session.execute(
                update(ProcessHeartbeat)
                .where(ProcessHeartbeat.name == self.name)
                .values(beat_at=now, status=status, detail=detail)
            )
            if not getattr(changed, "rowcount", 0):
                session.add(
                    ProcessHeartbeat(
                        name=self.name,
                        role=self.role,
                        host=self.host,
                        pid=self.pid,
                        started_at=self.started_at,
                        beat_at=now,
                        status=status,
                        detail=detail,
                    )
                )
            session.commit()

    def stopped(self) -> None:
        """Said on a clean exit, so the status page does not wait for the row to go stale."""
        self.beat("stopped")


def recent(db: Database, *, within_s: float = 3600.0, now: datetime | None = None) -> list[ProcessStatus]:
    """Every process seen within the last `within_s` seconds, newest beat first."""
    now = now or utcnow()
    with db.session() as session:
        rows = session.scalars(
            select(ProcessHeartbeat)
            .where(ProcessHeartbeat.beat_at >= now - timedelta(seconds=within_s))
            .order_by(ProcessHeartbeat.beat_at.desc())
        ).all()
        return [
            ProcessStatus(
                name=row.name,
                role=row.role,
                host=row.host,
                pid=row.pid,
                started_at=row.started_at,
                beat_at=row.beat_at,
                status=row.status,
                detail=dict(row.detail or {}),
                alive=row.status != "stopped" and (now - row.beat_at).total_seconds() <= STALE_AFTER_S,
            )
            for row in rows
        ]
