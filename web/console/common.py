"""What the console's views share: labels, the own-room lookup and durations (local times:
web.formatting)."""

from __future__ import annotations

from flask import abort
from sqlalchemy.orm import Session

from actions.errors import ActionNotFound
from actions.lookup import action_in_room
from actions.request import CHANNEL_LABELS, INCIDENT_LABELS, OUTCOME_LABELS
from db.models import Action, Operator


def labels() -> dict:
    return {
        "incident": INCIDENT_LABELS,
        "outcome": OUTCOME_LABELS,
        "channel": CHANNEL_LABELS,
        "status": {"draft": "concept", "running": "loopt", "ended": "beëindigd"},
    }


def action_or_404(s: Session, action_id: int | None, operator: Operator) -> Action:
    """An action of the operator's own control room, else 404."""
    try:
        return action_in_room(s, action_id or 0, operator.control_room_id)
    except ActionNotFound as error:
        abort(404, description=error.user_message)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} u {minutes:02d} min"
