"""A draft action: created or changed from a validated request, with the norms the centralist
confirmed (kept on the action and audited; the start checks them again)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions.errors import ActionError
from actions.request import ActionRequest
from config.settings import Settings
from db.audit import record_audit
from db.models import Action, ActionStatus, IncidentType, Operator


def save_draft(
    session: Session,
    request: ActionRequest,
    operator: Operator | None,
    control_room_id: int,
    settings: Settings,
    *,
    action: Action | None = None,
    ip: str | None = None,
) -> Action:
    """Create (or change) a draft action of `control_room_id` from a validated request; the
    action keeps the norms confirmed with it, and the audit event (action.created /
    action.changed) records them too. Flushes, does not commit."""
    if action is not None and action.status != ActionStatus.DRAFT:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not a draft",
            "Deze actie is al gestart en kan niet meer worden gewijzigd.",
        )
    created = action is None
    if action is None:
        action = Action(
            control_room_id=control_room_id,
            created_by_id=operator.id if operator else None,
            status=ActionStatus.DRAFT,
        )
        session.add(action)
    action.incident_type = IncidentType(request.incident_type)
    action.description = dict(request.description)
    action.free_text = request.free_text
    action.lat, action.lon = request.lat, request.lon
    action.location_label = request.location_label
    action.radius_m = request.radius_m
    action.channels = list(request.channels)
    action.norms = dict(request.norms)
    action.priority = settings.incident_priority.get(request.incident_type, 0)
    action.urgent = request.incident_type in settings.urgent_incident_types
    action.training = settings.training_mode
    session.flush()
    record_audit(
        session,
        "action.created" if created else "action.changed",
        operator=operator,
        target_type="action",
        target_id=action.id,
        ip=ip,
        incident_type=request.incident_type,
        radius_m=request.radius_m,
        channels=list(request.channels),
        norms=dict(request.norms),
    )
    return action


def discard_draft(
    session: Session, action: Action, operator: Operator | None, *, ip: str | None = None
) -> None:
    """Throw a draft away: the row goes, the audit event (action.discarded) keeps what it was.
    A started or ended action cannot be discarded. Flushes, does not commit."""
    if action.status != ActionStatus.DRAFT:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not a draft",
            "Deze actie is al gestart en kan niet meer worden weggegooid.",
        )
    record_audit(
        session,
        "action.discarded",
        operator=operator,
        target_type="action",
        target_id=action.id,
        ip=ip,
        incident_type=IncidentType(action.incident_type).value,
        location_label=action.location_label or "",
        radius_m=action.radius_m,
        channels=list(action.channels or []),
    )
    session.delete(action)
    session.flush()
