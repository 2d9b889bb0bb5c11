"""The audit trail of the operator's control room, for supervisors: who did what, when."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from db.models import AuditEvent, Operator, Role
from web.auth import current_operator, login_required
from web.console.blueprint import bp
from web.runtime import current_db

AUDIT_LABELS = {
    "auth.login": "ingelogd",
    "auth.login_failed": "inloggen mislukt",
    "auth.logout": "uitgelogd",
    "auth.locked": "account geblokkeerd",
    "auth.session_expired": "sessie verlopen",
    "action.created": "actie aangemaakt",
    "action.changed": "actie gewijzigd",
    "action.started": "actie gestart",
    "action.supervisor_confirmed": "bevestigd door supervisor",
    "action.rules_overridden": "normen en supervisorregel overgeslagen (oefening)",
    "action.ended": "actie beëindigd",
    "sighting.handled": "melding afgehandeld",
}


@bp.get("/audit")
@login_required(role=Role.SUPERVISOR)
def audit_log():
    """Who did what in this control room: log-ins, actions started, changed and ended."""
    operator = current_operator()
    with current_db().session() as s:
        staff = {
            o.id: o
            for o in s.scalars(select(Operator).where(Operator.control_room_id == operator.control_room_id))
        }
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.operator_id.in_(list(staff)))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(300)
        ).all()
        return render_template("console/audit.html", events=events, staff=staff, audit_labels=AUDIT_LABELS)
