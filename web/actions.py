"""The console's service layer for actions: preview, draft, start, end, figures.

The web form and the JSON API both go through here, so they validate and count alike. The
domain work is done by the modules that own it: prompts (the message), participants (the
selection in the circle), dialer (start, progress, end) and callback_line (the sightings).
This module only orders the calls, turns their domain errors into Dutch field errors and keeps
the preview honest: the count shown is computed by the same selection the dialer plans with.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.service import (
    DEFAULT_ANSWER_RATE,
    DEFAULT_ATTEMPT_S,
    estimate_wave_seconds,
    start_action,
    trunk_limits,
)
from config.settings import Settings
from db.audit import record_audit
from db.models import (
    Action,
    ActionStatus,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    Operator,
    Role,
    Sighting,
)
from deliveries.quiet_hours import held_until, quiet_window
from deliveries.states import REACHED
from participants.selection import count_by_channel, select_recipients
from prompts.errors import PromptError
from prompts.fields import description_fields
from prompts.messages import compose_alert
from web.action_form import (
    ActionRequest,
    InvalidActionRequest,
    needs_supervisor,
    parse_action_request,
)
from web.auth import has_role


class ConsoleError(Exception):
    """A request the console refuses; `user_message` is the Dutch text for the centralist."""

    def __init__(self, message: str, user_message: str):
        super().__init__(message)
        self.user_message = user_message


class SupervisorRequired(ConsoleError):
    """An action above the configured size needs a supervisor who has not confirmed it."""


@dataclass(frozen=True)
class Preview:
    request: ActionRequest
    voice_text: str
    display_text: str
    sms_text: str
    sms_chars: int
    sms_segments: int
    sms_encoding: str
    email_subject: str
    counts: dict[str, int]
    total: int
    participants: int
    eta_s: float
    needs_supervisor: bool
    limits: dict[str, int] = field(default_factory=dict)
    # Quiet hours: voice calls of a non-urgent action wait until this moment (UTC), or None.
    voice_held_until: datetime | None = None

    def as_json(self) -> dict:
        return {
            "voice_text": self.voice_text,
            "display_text": self.display_text,
            "sms": {"text": self.sms_text, "chars": self.sms_chars,
                    "segments": self.sms_segments, "encoding": self.sms_encoding},
            "email_subject": self.email_subject,
            "counts": self.counts,
            "total": self.total,
            "participants": self.participants,
            "eta_s": round(self.eta_s, 1),
            "needs_supervisor": self.needs_supervisor,
            "limits": self.limits,
            "voice_held_until": self.voice_held_until.isoformat() if self.voice_held_until else None,
            "radius_m": self.request.radius_m,
            "lat": self.request.lat,
            "lon": self.request.lon,
        }


# --- validation and preview -----------------------------------------------------------------


def field_specs(incident_type: str) -> list:
    try:
        return description_fields(incident_type)
    except ValueError:
        return []


def validate(values: Mapping, description: Mapping, settings: Settings, *,
             require_norms: bool = True) -> ActionRequest:
    """The form's and the API's one validation: field checks, then the message composer's.

    All problems are reported at once: when a field check fails, the description is still
    put to the composer so its Dutch complaints appear beside the others."""
    incident_type = str(values.get("incident_type") or "")
    try:
        request = parse_action_request(
            values, description, field_specs(incident_type),
            max_description_chars=settings.web.max_description_chars,
            require_norms=require_norms,
        )
    except InvalidActionRequest as invalid:
        errors = dict(invalid.errors)
        text_errors = any(k.startswith("d_") or k in ("free_text", "incident_type", "description")
                          for k in errors)
        if not text_errors:
            try:
                compose_text(incident_type, description, str(values.get("free_text") or ""),
                             settings.callback_number)
            except InvalidActionRequest as more:
                errors.update(more.errors)
        raise InvalidActionRequest(errors) from invalid
    compose(request, settings, callback_number=settings.callback_number)  # raises on bad text
    return request


def compose(request: ActionRequest, settings: Settings, *, callback_number: str):
    """The alert message for this request; prompts' domain errors become field errors."""
    return compose_text(request.incident_type, request.description, request.free_text,
                        callback_number)


def compose_text(incident_type: str, description: Mapping, free_text: str, callback_number: str):
    try:
        return compose_alert(incident_type, dict(description), free_text, callback_number)
    except PromptError as error:
        name = getattr(error, "field", None)
        key = f"d_{name}" if name and name != "free_text" else ("free_text" if name else "description")
        raise InvalidActionRequest({key: error.user_message}) from error


def callback_number_for(room: ControlRoom | None, settings: Settings) -> str:
    return (room.callback_number if room and room.callback_number else settings.callback_number)


def preview(s: Session, request: ActionRequest, control_room_id: int, at: datetime,
            settings: Settings) -> Preview:
    """What starting this request now would do: message, recipients by channel, duration."""

    room = s.get(ControlRoom, control_room_id)
    message = compose(request, settings, callback_number=callback_number_for(room, settings))
    recipients = select_recipients(s, request.lat, request.lon, request.radius_m, at,
                                   channels=request.channels)
    by_channel = count_by_channel(recipients)
    counts = {channel: by_channel.get(channel, 0) for channel in request.channels}
    channels, cps = trunk_limits(s, control_room_id, settings)
    # Voice calls set the pace; text messages and emails go out alongside them.
    eta = estimate_wave_seconds(counts.get(Channel.VOICE.value, 0), channels, cps,
                                DEFAULT_ATTEMPT_S, DEFAULT_ANSWER_RATE)
    participants = len({r.participant_id for r in recipients})
    return Preview(
        request=request,
        voice_text=message.voice,
        display_text=message.display,
        sms_text=message.sms,
        sms_chars=len(message.sms),
        sms_segments=message.sms_segments,
        sms_encoding=message.sms_encoding,
        email_subject=message.email_subject,
        counts=counts,
        total=len(recipients),
        participants=participants,
        eta_s=eta,
        needs_supervisor=needs_supervisor(
            request.radius_m, len(recipients),
            max_radius_m=settings.max_radius_without_supervisor_m,
            max_recipients=settings.max_recipients_without_supervisor,
        ),
        limits={"radius_m": settings.max_radius_without_supervisor_m,
                "recipients": settings.max_recipients_without_supervisor},
        voice_held_until=(held_until(quiet_window(room, settings),
                                     request.incident_type in settings.urgent_incident_types, at)
                          if Channel.VOICE.value in request.channels else None),
    )


# --- drafts ---------------------------------------------------------------------------------


def save_draft(s: Session, request: ActionRequest, operator: Operator, settings: Settings,
               *, action: Action | None = None, ip: str | None = None) -> Action:
    """Create (or change) a draft action from a validated request; audited."""
    if action is not None and action.status != ActionStatus.DRAFT:
        raise ConsoleError(f"action {action.id} is {action.status.value}, not a draft",
                           "Deze actie is al gestart en kan niet meer worden gewijzigd.")
    created = action is None
    if created:
        action = Action(control_room_id=operator.control_room_id, created_by_id=operator.id,
                        status=ActionStatus.DRAFT)
        s.add(action)
    action.incident_type = IncidentType(request.incident_type)
    action.description = dict(request.description)
    action.free_text = request.free_text
    action.lat, action.lon = request.lat, request.lon
    action.location_label = request.location_label
    action.radius_m = request.radius_m
    action.channels = list(request.channels)
    action.priority = settings.incident_priority.get(request.incident_type, 0)
    action.urgent = request.incident_type in settings.urgent_incident_types
    action.training = settings.training_mode
    s.flush()
    record_audit(s, "action.created" if created else "action.changed", operator=operator,
                 target_type="action", target_id=action.id, ip=ip,
                 incident_type=request.incident_type, radius_m=request.radius_m,
                 channels=list(request.channels), norms=dict(request.norms))
    return action


def request_from_action(action: Action, norms: Mapping[str, bool] | None = None) -> ActionRequest:
    return ActionRequest(
        incident_type=action.incident_type.value if hasattr(action.incident_type, "value")
        else str(action.incident_type),
        description=dict(action.description or {}),
        free_text=action.free_text or "",
        lat=action.lat, lon=action.lon, location_label=action.location_label or "",
        radius_m=action.radius_m, channels=list(action.channels or []),
        norms=dict(norms or {}),
    )


def action_for(s: Session, action_id: int, operator: Operator) -> Action:
    """An action of the operator's own control room, or ConsoleError (shown as 404)."""
    action = s.get(Action, action_id)
    if action is None or action.control_room_id != operator.control_room_id:
        raise ConsoleError(f"no action {action_id} in control room {operator.control_room_id}",
                           "Deze actie bestaat niet (of hoort bij een andere meldkamer).")
    return action


# --- start ----------------------------------------------------------------------------------


def check_supervisor(s: Session, operator: Operator, supervisor: Operator | None) -> Operator:
    """The supervisor who confirms an oversized action: the operator themself when they have
    the role, else a supervisor of the same control room who authenticated on the spot."""

    if has_role(operator, Role.SUPERVISOR):
        return operator
    if supervisor is None:
        raise SupervisorRequired("supervisor confirmation required",
                           "Deze actie is groter dan de grens: een supervisor moet bevestigen.")
    if not has_role(supervisor, Role.SUPERVISOR) or supervisor.control_room_id != operator.control_room_id:
        raise SupervisorRequired("confirming operator is not a supervisor of this control room",
                           "Alleen een supervisor van deze meldkamer kan deze actie bevestigen.")
    return supervisor


def start(s: Session, action: Action, operator: Operator, at_clock, settings: Settings, *,
          expected_total: int | None = None, supervisor: Operator | None = None,
          ip: str | None = None) -> Preview:
    """Start a draft: recount, enforce the supervisor rule, hand over to the dialer.

    The dialer's start_action commits the session (the wave is planned completely or not at
    all), so pass a plain session, not one inside `Database.transaction()`."""

    if action.status != ActionStatus.DRAFT:
        raise ConsoleError(f"action {action.id} is {action.status.value}",
                           "Deze actie is al gestart of beëindigd.")
    request = request_from_action(action)
    now = at_clock.now()
    current = preview(s, request, action.control_room_id, now, settings)
    if current.total == 0:
        raise ConsoleError("no recipients in the circle",
                           "Er zijn geen deelnemers binnen de cirkel. Vergroot de straal of kies een ander kanaal.")
    if expected_total is not None and expected_total != current.total:
        raise ConsoleError(
            f"recipient count changed from {expected_total} to {current.total}",
            f"Het aantal ontvangers is intussen veranderd ({expected_total} → {current.total}). "
            "Controleer de aantallen en bevestig opnieuw.",
        )
    if current.needs_supervisor:
        confirmer = check_supervisor(s, operator, supervisor)
        action.supervisor_confirmed_by_id = confirmer.id
        record_audit(s, "action.supervisor_confirmed", operator=confirmer, target_type="action",
                     target_id=action.id, ip=ip, total=current.total, radius_m=action.radius_m)
    attached = s.get(Operator, operator.id)
    start_action(s, action, attached, at_clock, settings)
    return current


# --- figures --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionFigures:
    recipients: int
    reached: int
    acknowledged: int
    sightings: int
    first_sighting_s: float | None
    outcome_recipients: int


def figures_for(s: Session, actions: list[Action]) -> dict[int, ActionFigures]:
    """The figures the evaluation needs, for many actions in a fixed number of queries.

    "Reached" is the dialer's definition (deliveries.states.REACHED), so the list, the live page
    and the progress agree."""

    ids = [a.id for a in actions]
    if not ids:
        return {}
    reached_states = [state.value for state in REACHED]
    rows = s.execute(
        select(Delivery.action_id, Delivery.kind, Delivery.state, Delivery.acknowledged, func.count())
        .where(Delivery.action_id.in_(ids))
        .group_by(Delivery.action_id, Delivery.kind, Delivery.state, Delivery.acknowledged)
    ).all()
    counts = {i: {"recipients": 0, "reached": 0, "acknowledged": 0, "outcome": 0} for i in ids}
    for action_id, kind, state, acknowledged, n in rows:
        c = counts[action_id]
        if DeliveryKind(kind) == DeliveryKind.OUTCOME:
            c["outcome"] += n
            continue
        c["recipients"] += n
        if DeliveryState(state).value in reached_states:
            c["reached"] += n
        if acknowledged:
            c["acknowledged"] += n
    sightings = {
        action_id: (n, first) for action_id, n, first in s.execute(
            select(Sighting.action_id, func.count(), func.min(Sighting.received_at))
            .where(Sighting.action_id.in_(ids)).group_by(Sighting.action_id))
    }
    result = {}
    for action in actions:
        c = counts[action.id]
        n, first = sightings.get(action.id, (0, None))
        first_s = None
        if first is not None and action.started_at is not None:
            first_s = max(0.0, (first - action.started_at).total_seconds())
        result[action.id] = ActionFigures(c["recipients"], c["reached"], c["acknowledged"], n,
                                          first_s, c["outcome"])
    return result


def figures(s: Session, action: Action) -> ActionFigures:
    return figures_for(s, [action])[action.id]


def channel_values() -> list[str]:
    return [c.value for c in Channel]
