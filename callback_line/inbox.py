"""The sightings inbox of the centralist console: what callers reported for an action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.clock import Clock
from db.audit import record_audit
from db.models import Operator, Participant, Sighting

SIMULATED_PROVIDER = "simulator"  # Sighting.provider of training mode's simulated callers


class SightingNotFound(Exception):
    """No sighting with this id (or not of the operator's control room)."""


@dataclass(frozen=True)
class SightingItem:
    id: int
    action_id: int | None
    received_at: datetime
    caller_number: str | None
    participant_id: int | None
    participant_name: str | None  # None: not a registered participant (still welcome)
    distance_m: float | None
    duration_s: float | None
    recording_path: str | None  # relative to settings.recordings_dir
    # complete | truncated | failed | none (nothing recorded); the reason when not complete
    # (a truncated recording keeps duration_s seconds; a failed one may name where the audio is)
    recording_status: str | None
    recording_error: str | None
    transferred: bool
    transfer_result: str | None
    handled: bool
    handled_by: str | None
    handled_at: datetime | None
    note: str
    simulated: bool  # a simulated caller of training mode (dialer.simulated_callbacks)


def list_sightings(session: Session, action_id: int, *, unhandled_only: bool = False) -> list[SightingItem]:
    """Sightings of an action, newest first."""
    handler = select(Operator.id, Operator.display_name).subquery()
    query = (
        select(Sighting, Participant.name, handler.c.display_name)
        .outerjoin(Participant, Participant.id == Sighting.participant_id)
        .outerjoin(handler, handler.c.id == Sighting.handled_by_id)
        .where(Sighting.action_id == action_id)
        .order_by(Sighting.received_at.desc(), Sighting.id.desc())
    )
    if unhandled_only:
        query = query.where(Sighting.handled.is_(False))
    return [
        SightingItem(
            id=s.id,
            action_id=s.action_id,
            received_at=s.received_at,
            caller_number=s.caller_number,
            participant_id=s.participant_id,
            participant_name=name,
            distance_m=s.distance_m,
            duration_s=s.duration_s,
            recording_path=s.recording_path,
            recording_status=s.recording_status,
            recording_error=s.recording_error,
            transferred=s.transferred,
            transfer_result=s.transfer_result,
            handled=s.handled,
            handled_by=handled_by,
            handled_at=s.handled_at,
            note=s.note,
            simulated=s.provider == SIMULATED_PROVIDER,
        )
        for s, name, handled_by in session.execute(query)
    ]


def count_unhandled(session: Session, action_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Sighting)
            .where(Sighting.action_id == action_id, Sighting.handled.is_(False))
        )
        or 0
    )


def mark_handled(
    session: Session, sighting_id: int, operator: Operator, clock: Clock, note: str = ""
) -> Sighting:
    """The centralist has dealt with the sighting. Only sightings of the operator's own
    control room; audited. The caller's session commits."""
    sighting = session.get(Sighting, sighting_id)
    if sighting is None or (
        sighting.control_room_id is not None and sighting.control_room_id != operator.control_room_id
    ):
        raise SightingNotFound(
            f"sighting {sighting_id} not found for control room {operator.control_room_id}"
        )
    sighting.handled = True
    sighting.handled_by_id = operator.id
    sighting.handled_at = clock.now()
    if note:
        sighting.note = note.strip()
    record_audit(
        session,
        "sighting.handled",
        operator=operator,
        target_type="sighting",
        target_id=sighting.id,
        action_id=sighting.action_id,
    )
    return sighting


def recording_file(recordings_dir: Path, recording_path: str | None) -> Path:
    """The audio file of a sighting, for the console to play; only inside `recordings_dir`
    (a stored path never leads elsewhere). Raises SightingNotFound when there is none."""
    if not recording_path:
        raise SightingNotFound("this sighting has no recording")
    root = recordings_dir.resolve()
    path = (root / recording_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise SightingNotFound(f"recording {recording_path!r} not found")
    return path
