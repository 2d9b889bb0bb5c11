"""Finding an action as a control room may see it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions.errors import ActionNotFound
from db.models import Action


def action_in_room(session: Session, action_id: int, control_room_id: int) -> Action:
    """An action of this control room, or ActionNotFound (shown as 404: another room's action is
    not even said to exist)."""
    action = session.get(Action, action_id)
    if action is None or action.control_room_id != control_room_id:
        raise ActionNotFound(
            f"no action {action_id} in control room {control_room_id}",
            "Deze actie bestaat niet (of hoort bij een andere meldkamer).",
        )
    return action
