"""Ending an action, and the outcome message (afloopbericht) that follows it."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.errors import ActionError, InvalidActionRequest
from actions.request import OUTCOME_LABELS, check_outcome_fits, clean_text
from actions.wave import insert_deliveries, reached_contact_rows
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.audit import record_audit
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    Operator,
    Outcome,
)
from deliveries.states import transition_many

logger = logging.getLogger(__name__)

S = DeliveryState
MAX_NOTE = 300


def checked_outcome(outcome: object, note: object) -> tuple[str, str]:
    """The outcome and its note as submitted (form, JSON, CLI), or InvalidActionRequest with a
    Dutch message per field."""
    errors: dict[str, str] = {}
    clean_note = clean_text(
        note if note is not None else "", label="Toelichting", max_chars=MAX_NOTE, errors=errors, key="note"
    )
    if not isinstance(outcome, str) or outcome not in OUTCOME_LABELS:
        errors["outcome"] = "Kies de afloop van de actie."
    if errors:
        raise InvalidActionRequest(errors)
    return str(outcome), clean_note


def end_action(
    session: Session,
    action: Action,
    operator: Operator | None,
    outcome: str,
    note: str,
    clock: Clock,
    settings: Settings,
) -> None:
    """End a running action: cancel everything still queued or held at once (one commit), the
    alert and any update (vervolgbericht) not yet sent; the outcome message says how it ended.

    Calls in progress finish, or are hung up by the worker when
    `settings.dialer.hang_up_in_progress_on_stop` is set. The outcome message goes out
    `settings.dialer.outcome_delay_s` after the end (the scheduler's outcome job).
    """
    if action.status != ActionStatus.RUNNING:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not running",
            "Alleen een lopende actie kan worden beëindigd.",
        )
    try:
        result = Outcome(outcome)
    except ValueError:
        raise ActionError(
            f"unknown outcome {outcome!r}", "Kies een geldige afloop voor deze actie."
        ) from None
    try:
        check_outcome_fits(result.value, IncidentType(action.incident_type).value)
    except InvalidActionRequest as misfit:
        raise ActionError(
            f"outcome {outcome!r} does not fit a {action.incident_type} action", misfit.errors["outcome"]
        ) from None
    now = clock.now()
    cancelled = 0
    for state in (S.QUEUED, S.HELD):
        by_channel: dict[Channel, list[int]] = defaultdict(list)
        for delivery_id, channel in session.execute(
            select(Delivery.id, Delivery.channel).where(
                Delivery.action_id == action.id,
                Delivery.kind.in_([DeliveryKind.ALERT, DeliveryKind.UPDATE]),
                Delivery.state == state,
            )
        ):
            by_channel[Channel(channel)].append(delivery_id)
        for channel, ids in by_channel.items():
            cancelled += transition_many(
                session, ids, channel, state, S.CANCELLED, event="action.ended", clock=clock
            )
    action.status = ActionStatus.ENDED
    action.outcome = result
    action.outcome_note = note or ""
    action.ended_at = now
    action.ended_by_id = operator.id if operator else None
    record_audit(
        session,
        "action.ended",
        operator=operator,
        target_type="action",
        target_id=action.id,
        outcome=result.value,
        cancelled=cancelled,
        hang_up_in_progress=settings.dialer.hang_up_in_progress_on_stop,
    )
    session.commit()
    log_event(logger, "action.ended", action_id=action.id, outcome=result.value, cancelled=cancelled)


def outcome_due_at(action: Action, settings: Settings) -> datetime | None:
    if action.ended_at is None or action.outcome is None:
        return None
    return action.ended_at + timedelta(seconds=settings.dialer.outcome_delay_s)


def plan_outcome_messages(session: Session, action: Action, clock: Clock, settings: Settings) -> int:
    """Queue the outcome message (afloopbericht) for everyone reached, on the same channel.

    Idempotent: `Action.outcome_sent_at` is set in the same commit. Participants who opted out
    during the alert get nothing more.
    """
    if action.status != ActionStatus.ENDED or action.outcome_sent_at is not None:
        return 0
    now = clock.now()
    rows = reached_contact_rows(session, action.id)
    if rows:
        insert_deliveries(
            session,
            {
                "action_id": action.id,
                "kind": DeliveryKind.OUTCOME,
                "priority": action.priority,
                "state": S.QUEUED,
                "created_at": now,
                "updated_at": now,
            },
            rows,
        )
    action.outcome_sent_at = now
    record_audit(
        session,
        "action.outcome_message_queued",
        target_type="action",
        target_id=action.id,
        recipients=len(rows),
    )
    session.commit()
    log_event(logger, "outcome.planned", action_id=action.id, deliveries=len(rows))
    return len(rows)
