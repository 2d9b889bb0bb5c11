"""The audit trail: who started, changed and ended what."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import AuditEvent, Operator


def record_audit(
    session: Session,
    event: str,
    *,
    operator: Operator | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    ip: str | None = None,
    **detail,
) -> AuditEvent:
    entry = AuditEvent(
        event=event,
        operator_id=operator.id if operator else None,
        actor=actor or (operator.username if operator else "system"),
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        detail=detail,
    )
    session.add(entry)
    return entry
