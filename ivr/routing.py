"""Where a caller is put through to: the centralist who started the action, else the room."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import Action, ControlRoom, Operator


class NoTransferTarget(Exception):
    """Neither the centralist nor the control room has a number to put callers through to."""


def transfer_target_for_action(session: Session, action: Action) -> str:
    """Operator.transfer_target of the centralist who started the action, else the control
    room's transfer_target."""
    if action.started_by_id is not None:
        operator = session.get(Operator, action.started_by_id)
        if operator is not None and operator.active and operator.transfer_target:
            return operator.transfer_target
    return transfer_target_for_room(session, action.control_room_id)


def transfer_target_for_room(session: Session, control_room_id: int) -> str:
    room = session.get(ControlRoom, control_room_id)
    if room is None or not room.transfer_target:
        raise NoTransferTarget(f"control room {control_room_id} has no transfer target")
    return room.transfer_target
