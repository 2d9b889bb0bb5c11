"""Small database fixtures several test modules need."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import Action, ActionStatus, ControlRoom, IncidentType


def running_action(session: Session) -> Action:
    """A running voice action of a control room of its own (flushed, so it has an id)."""
    room = ControlRoom(name="M", region="M", transfer_target="+31703456789")
    session.add(room)
    session.flush()
    action = Action(
        control_room_id=room.id,
        incident_type=IncidentType.SUSPECT,
        voice_text="x",
        lat=52.0,
        lon=4.3,
        radius_m=1000,
        channels=["voice"],
        status=ActionStatus.RUNNING,
    )
    session.add(action)
    session.flush()
    return action
