"""Changing a running action, the one way the console, the API and the CLI do it.

Two changes, each a numbered `ActionRevision`, audited, with the supervisor rule applied to the
totals after the change:

- an update (vervolgbericht, `send_update`): a new description or free text. The alert's texts
  are composed again and frozen on the action, so every delivery not yet made speaks or sends
  the new version; everyone the alert already reached gets a short update on their own channel
  (delivery kind `update`, sent like the outcome message: a short call, an SMS, an email).
- a wider circle or a moved point (`change_area`): only participants not planned before are
  added (actions.wave.new_contact_points), nobody twice; nobody is taken out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.errors import ActionError, InvalidActionRequest, RecipientsChanged
from actions.request import (
    MAX_LABEL,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    NL_BOUNDS,
    check_message_fields,
    clean_text,
    compose_text,
    parse_float,
)
from actions.supervisor import confirming_supervisor, needs_supervisor
from actions.wave import insert_deliveries, new_contact_points, plan_wave, reached_contact_rows
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.audit import record_audit
from db.models import (
    Action,
    ActionRevision,
    ActionStatus,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Operator,
    RevisionKind,
)
from deliveries.states import REACHED, RESULT_STATES
from prompts.callback_number import callback_number_for, sender_for
from prompts.errors import PromptError
from prompts.messages import compose_update
from prompts.place import area_of

logger = logging.getLogger(__name__)

S = DeliveryState


@dataclass(frozen=True)
class AreaPreview:
    """What a changed circle would do: who it adds, the total after, and whether a supervisor
    must confirm it."""

    lat: float
    lon: float
    radius_m: int
    location_label: str
    added: int
    total: int
    needs_supervisor: bool


def _lock(session: Session, action: Action) -> None:
    """Lock the action's row for this change and read it again, so two changes at once are
    numbered and applied one after the other (PostgreSQL; SQLite has one writer anyway)."""
    session.execute(
        select(Action)
        .where(Action.id == action.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _running(action: Action) -> None:
    if action.status != ActionStatus.RUNNING:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not running",
            "Alleen een lopende actie kan worden gewijzigd.",
        )


def _alert_contact_points(session: Session, action: Action) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT)
        )
        or 0
    )


def _next_number(session: Session, action: Action) -> int:
    last = session.scalar(
        select(func.max(ActionRevision.number)).where(ActionRevision.action_id == action.id)
    )
    return (last or 0) + 1


def _confirmer(
    action: Action,
    operator: Operator | None,
    supervisor: Operator | None,
    radius_m: int,
    total: int,
    settings: Settings,
) -> Operator | None:
    """The supervisor rule on the totals after the change: who confirmed, or None when the
    change stays within the limits; SupervisorRequired otherwise."""
    if not needs_supervisor(
        radius_m,
        total,
        max_radius_m=settings.max_radius_without_supervisor_m,
        max_recipients=settings.max_recipients_without_supervisor,
    ):
        return None
    return confirming_supervisor(operator, supervisor, action.control_room_id)


# --- the update (vervolgbericht) ---------------------------------------------------------------


def send_update(
    session: Session,
    action: Action,
    operator: Operator | None,
    description: Mapping[str, object],
    free_text: str,
    clock: Clock,
    settings: Settings,
    *,
    supervisor: Operator | None = None,
    ip: str | None = None,
) -> ActionRevision:
    """Give a running action a new description or free text (one commit).

    Deliveries not yet made carry the new text; those already reached get the short update.
    Raises InvalidActionRequest (Dutch message per field, also when nothing changed) or
    ActionError; then roll the session back, nothing was changed."""
    _lock(session, action)
    _running(action)
    operator = session.get(Operator, operator.id) if operator is not None else None
    incident = action.incident_type.value
    _, new_description, new_free = check_message_fields(
        {"incident_type": incident, "free_text": free_text}, description, settings
    )
    if not new_description and not new_free:
        raise InvalidActionRequest(
            {"description": "Vul een signalement in: zonder beschrijving kan niemand uitkijken."}
        )
    number = callback_number_for(action.control_room, settings.callback_number)
    sender = sender_for(action.control_room, settings)
    alert = compose_text(incident, new_description, new_free, number, sender, action.location_label or "")
    try:
        compose_update(
            incident,
            dict(action.description or {}),
            new_description,
            new_free,
            number,
            area=area_of(action.location_label or ""),
            sender=sender,
            free_text_before=action.free_text or "",
        )
    except PromptError as error:
        name = getattr(error, "field", None)
        key = f"d_{name}" if name and name != "free_text" else "free_text"
        raise InvalidActionRequest({key: error.user_message}) from error
    total = _alert_contact_points(session, action)
    confirmer = _confirmer(action, operator, supervisor, action.radius_m, total, settings)

    now = clock.now()
    revision = ActionRevision(
        action_id=action.id,
        number=_next_number(session, action),
        kind=RevisionKind.UPDATE,
        at=now,
        operator_id=operator.id if operator else None,
        supervisor_confirmed_by_id=confirmer.id if confirmer else None,
        before={
            "description": dict(action.description or {}),
            "free_text": action.free_text or "",
            "voice_text": action.voice_text,
            "sms_text": action.sms_text,
        },
        after={"description": new_description, "free_text": new_free},
        recipients_total=total,
    )
    rows = reached_contact_rows(session, action.id)
    if rows:
        insert_deliveries(
            session,
            {
                "action_id": action.id,
                "kind": DeliveryKind.UPDATE,
                "revision": revision.number,
                "priority": action.priority,
                "state": S.QUEUED,
                "created_at": now,
                "updated_at": now,
            },
            rows,
        )
    pending = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.action_id == action.id,
                Delivery.kind == DeliveryKind.ALERT,
                Delivery.state.in_([S.QUEUED, S.HELD, S.DIALING, S.RINGING, S.SENDING, *RESULT_STATES])
                & ~Delivery.state.in_(REACHED),
            )
        )
        or 0
    )
    revision.updates_queued = len(rows)
    revision.pending_with_new_text = pending
    revision.after["voice_text"] = alert.voice
    revision.after["sms_text"] = alert.sms
    action.description = new_description
    action.free_text = new_free
    action.voice_text = alert.voice
    action.sms_text = alert.sms
    session.add(revision)
    session.flush()
    record_audit(
        session,
        "action.updated",
        operator=operator,
        target_type="action",
        target_id=action.id,
        ip=ip,
        revision=revision.number,
        updates_queued=len(rows),
        pending_with_new_text=pending,
        supervisor=confirmer.username if confirmer else None,
    )
    session.commit()
    log_event(
        logger,
        "action.updated",
        action_id=action.id,
        revision=revision.number,
        updates=len(rows),
        pending=pending,
    )
    return revision


# --- a wider circle or a moved point ---------------------------------------------------------------


def checked_area(
    lat: object, lon: object, radius_m: object, location_label: object
) -> tuple[float, float, int, str]:
    """The new circle as submitted, or InvalidActionRequest with a Dutch message per field."""
    errors: dict[str, str] = {}
    label = clean_text(location_label, label="Locatie", max_chars=MAX_LABEL, errors=errors, key="location")
    la, lo = parse_float(lat), parse_float(lon)
    if la is None or lo is None:
        errors["location"] = "Kies de locatie: zoek een adres of klik op de kaart."
    elif not (NL_BOUNDS[0] <= la <= NL_BOUNDS[1] and NL_BOUNDS[2] <= lo <= NL_BOUNDS[3]):
        errors["location"] = "De locatie ligt buiten Nederland. Controleer het adres of de kaart."
    radius = parse_float(radius_m)
    if radius is None:
        errors["radius_m"] = "Vul de straal in meters in."
    elif not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
        errors["radius_m"] = f"De straal moet tussen {MIN_RADIUS_M} en {MAX_RADIUS_M} meter liggen."
    if errors or la is None or lo is None or radius is None:
        raise InvalidActionRequest(errors)
    return round(la, 6), round(lo, 6), int(round(radius)), label


def preview_area(
    session: Session,
    action: Action,
    lat: float,
    lon: float,
    radius_m: int,
    location_label: str,
    now: datetime,
    settings: Settings,
) -> AreaPreview:
    """Who the changed circle would add (nothing is saved: the session is rolled back to the
    action as it was)."""
    _running(action)
    before = (action.lat, action.lon, action.radius_m)
    action.lat, action.lon, action.radius_m = lat, lon, radius_m
    try:
        added = len(new_contact_points(session, action, now, settings.timezone))
    finally:
        action.lat, action.lon, action.radius_m = before
    total = _alert_contact_points(session, action) + added
    return AreaPreview(
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        location_label=location_label or action.location_label or "",
        added=added,
        total=total,
        needs_supervisor=needs_supervisor(
            radius_m,
            total,
            max_radius_m=settings.max_radius_without_supervisor_m,
            max_recipients=settings.max_recipients_without_supervisor,
        ),
    )


def change_area(
    session: Session,
    action: Action,
    operator: Operator | None,
    lat: float,
    lon: float,
    radius_m: int,
    location_label: str,
    clock: Clock,
    settings: Settings,
    *,
    expected_added: int | None = None,
    supervisor: Operator | None = None,
    ip: str | None = None,
) -> ActionRevision:
    """Widen the circle or move its point; only participants not planned before are added.

    `expected_added` is the number the centralist confirmed (RecipientsChanged when the
    circle now adds another number). The alert texts name the new area from then on. One
    commit; on an error roll back, nothing was changed."""
    _lock(session, action)
    _running(action)
    operator = session.get(Operator, operator.id) if operator is not None else None
    label = location_label or action.location_label or ""
    preview = preview_area(session, action, lat, lon, radius_m, label, clock.now(), settings)
    if preview.added == 0:
        raise ActionError(
            "the changed circle adds nobody",
            "De nieuwe cirkel voegt niemand toe: iedereen erin is al benaderd. Vergroot de straal.",
        )
    if expected_added is not None and expected_added != preview.added:
        raise RecipientsChanged(
            f"added recipients changed from {expected_added} to {preview.added}",
            f"Het aantal nieuwe ontvangers is intussen veranderd ({expected_added} → {preview.added}). "
            "Controleer de aantallen en bevestig opnieuw.",
        )
    confirmer = _confirmer(action, operator, supervisor, radius_m, preview.total, settings)
    number = callback_number_for(action.control_room, settings.callback_number)
    alert = compose_text(
        action.incident_type.value,
        dict(action.description or {}),
        action.free_text or "",
        number,
        sender_for(action.control_room, settings),
        label,
    )
    revision = ActionRevision(
        action_id=action.id,
        number=_next_number(session, action),
        kind=RevisionKind.AREA,
        at=clock.now(),
        operator_id=operator.id if operator else None,
        supervisor_confirmed_by_id=confirmer.id if confirmer else None,
        before={
            "lat": action.lat,
            "lon": action.lon,
            "radius_m": action.radius_m,
            "location_label": action.location_label or "",
        },
        after={"lat": lat, "lon": lon, "radius_m": radius_m, "location_label": label},
        recipients_added=preview.added,
        recipients_total=preview.total,
    )
    action.lat, action.lon, action.radius_m, action.location_label = lat, lon, radius_m, label
    action.voice_text, action.sms_text = alert.voice, alert.sms
    session.add(revision)
    session.flush()
    record_audit(
        session,
        "action.area_changed",
        operator=operator,
        target_type="action",
        target_id=action.id,
        ip=ip,
        revision=revision.number,
        radius_m=radius_m,
        moved=(lat, lon) != (revision.before["lat"], revision.before["lon"]),
        supervisor=confirmer.username if confirmer else None,
    )
    added = plan_wave(session, action, clock, settings)  # commits the revision with the rows
    if added != revision.recipients_added:
        revision.recipients_added = added
        revision.recipients_total = _alert_contact_points(session, action)
        session.commit()
    log_event(logger, "action.area_changed", action_id=action.id, revision=revision.number, added=added)
    return revision
