"""The dialer's service layer: start and end an action, plan its wave, report its progress.

Each public function that changes data owns its transaction: it commits the session it was
given once everything is in place, so a wave is planned completely or not at all. The web
console and the CLI call these; the worker (dialer.worker) then works the queued rows.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.audit import record_audit
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    Operator,
    Outcome,
    PhoneKind,
    Trunk,
)
from deliveries.quiet_hours import held_until, quiet_window
from deliveries.states import IN_FLIGHT, REACHED, transition_many
from participants.selection import select_recipients
from prompts.messages import compose_alert

logger = logging.getLogger(__name__)

S = DeliveryState
# Assumed until an action has figures of its own.
DEFAULT_ANSWER_RATE = 0.7
DEFAULT_ATTEMPT_S = 30.0


class ActionError(Exception):
    """An action cannot do what was asked; `user_message` is the Dutch text for the centralist."""

    def __init__(self, message: str, user_message: str):
        super().__init__(message)
        self.user_message = user_message


@dataclass(frozen=True)
class ActionProgress:
    action_id: int
    status: str
    total: int
    by_state: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    reached: int
    answered: int
    acknowledged: int
    in_flight: int
    held: int
    pending_retries: int
    calls_per_minute: int
    estimated_seconds_left: float
    outcome_by_state: dict[str, int] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return self.by_state.get(S.QUEUED.value, 0)


# --- estimates --------------------------------------------------------------------------------


def estimate_wave_seconds(recipient_count: int, channels: int, cps: float, avg_call_s: float,
                          answer_rate: float) -> float:
    """How long a wave of voice calls takes at a trunk's limits (what the preview shows).

    Each unanswered recipient is assumed to be tried once more. The wave is bound by the call
    rate or by the channels, whichever is slower, plus the length of the last call.
    """
    if recipient_count < 0 or channels <= 0 or cps <= 0 or avg_call_s < 0:
        raise ValueError("recipients must be >= 0, channels and cps > 0, call length >= 0")
    if recipient_count == 0:
        return 0.0
    answer_rate = min(max(answer_rate, 0.0), 1.0)
    attempts = recipient_count * (2.0 - answer_rate)
    return max(attempts / cps, attempts * avg_call_s / channels) + avg_call_s


def trunk_limits(session: Session, control_room_id: int | None,
                 settings: Settings) -> tuple[int, float]:
    """Channels and calls per second available to a control room (its trunks, or any)."""
    query = select(func.sum(Trunk.max_channels), func.sum(Trunk.cps)).where(Trunk.active)
    if control_room_id is not None:
        own = session.execute(query.where(Trunk.control_room_id == control_room_id)).one()
        if own[0]:
            return int(own[0]), float(own[1])
    shared = session.execute(query.where(Trunk.control_room_id.is_(None))).one()
    if shared[0]:
        return int(shared[0]), float(shared[1])
    return settings.dialer.channels, settings.dialer.cps


# --- start ------------------------------------------------------------------------------------


def callback_number_for(action: Action, settings: Settings) -> str:
    room = action.control_room
    return (room.callback_number if room is not None and room.callback_number
            else settings.callback_number)


def start_action(session: Session, action: Action, operator: Operator | None, clock: Clock,
                 settings: Settings) -> None:
    """Freeze the texts, mark the action running, audit it and plan its wave (one commit)."""

    if action.status != ActionStatus.DRAFT:
        raise ActionError(f"action {action.id} is {action.status.value}, not a draft",
                          "Deze actie is al gestart of beëindigd.")
    incident = action.incident_type.value
    message = compose_alert(incident, action.description or {}, action.free_text or "",
                            callback_number_for(action, settings))
    now = clock.now()
    action.voice_text = message.voice
    action.sms_text = message.sms
    action.priority = settings.incident_priority.get(incident, 0)
    action.urgent = incident in settings.urgent_incident_types
    action.training = settings.training_mode
    action.status = ActionStatus.RUNNING
    action.started_at = now
    action.started_by_id = operator.id if operator else None
    session.flush()
    record_audit(session, "action.started", operator=operator, target_type="action",
                 target_id=action.id, incident_type=incident, radius_m=action.radius_m,
                 training=action.training)
    planned = plan_wave(session, action, clock, settings)
    log_event(logger, "action.started", action_id=action.id, incident_type=incident,
              deliveries=planned, training=action.training)


def plan_wave(session: Session, action: Action, clock: Clock, settings: Settings) -> int:
    """One queued delivery per contact point in the circle, nearest first; returns the count.

    Voice rows that fall in the control room's quiet hours (non-urgent actions) are held until
    the window ends: reported as held, not lost. Commits once, so the wave exists completely
    or not at all. Planning twice adds only contact points not planned before.
    """

    now = clock.now()
    recipients = select_recipients(session, action.lat, action.lon, action.radius_m, now,
                                   channels=action.channels or None)
    existing = {
        (channel, target) for channel, target in session.execute(
            select(Delivery.channel, Delivery.target).where(
                Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT))
    }
    rows = []
    for rank, recipient in enumerate(recipients):
        if (recipient.channel, recipient.target) in existing:
            continue
        existing.add((recipient.channel, recipient.target))
        rows.append((recipient.participant_id, recipient.channel, recipient.target,
                     recipient.phone_kind, recipient.distance_m, rank))
    if rows:
        insert_deliveries(session, {
            "action_id": action.id, "kind": DeliveryKind.ALERT, "priority": action.priority,
            "state": S.QUEUED, "created_at": now, "updated_at": now}, rows)
    hold_until = held_until(quiet_window(action.control_room, settings), action.urgent, now)
    held = 0
    if hold_until is not None:
        voice_ids = list(session.scalars(select(Delivery.id).where(
            Delivery.action_id == action.id, Delivery.channel == Channel.VOICE,
            Delivery.state == S.QUEUED, Delivery.kind == DeliveryKind.ALERT)))
        held = transition_many(session, voice_ids, Channel.VOICE, S.QUEUED, S.HELD,
                               event="quiet_hours.held", clock=clock,
                               values={"next_attempt_at": hold_until},
                               until=hold_until.isoformat())
    session.commit()
    log_event(logger, "wave.planned", action_id=action.id, deliveries=len(rows), held=held)
    return len(rows)


# The columns that differ from row to row; everything else is common to the whole wave.
VARYING = ("participant_id", "channel", "target", "phone_kind", "distance_m", "rank")
# Python-side defaults of the model, which a driver-level insert must give itself.
_DEFAULTS = {"acknowledged": False, "transfer_requested": False, "opt_out_requested": False,
             "menu_choices": "", "attempts": 0}


def insert_deliveries(session: Session, common: dict, rows: list[tuple]) -> None:
    """Insert a wave of delivery rows with one executemany at the driver.

    `rows` hold the VARYING columns in that order; `common` the values shared by all. The
    ORM's bulk insert converts every value of every row through the column types, which costs
    more than the insert itself for thousands of rows; here each distinct value is converted
    once with the same type processors, so what is stored is identical.
    """
    connection = session.connection()
    dialect = connection.dialect
    table = Delivery.__table__

    def to_db(column: str, value):
        processor = table.c[column].type._cached_bind_processor(dialect)
        return processor(value) if processor else value

    shared = _DEFAULTS | common
    shared_columns = tuple(shared)
    shared_values = tuple(to_db(column, value) for column, value in shared.items())
    channels = {c: to_db("channel", c) for c in Channel}
    kinds = {k: to_db("phone_kind", k) for k in (*PhoneKind, None)}
    params = [shared_values + (pid, channels[channel], target, kinds[kind], distance, rank)
              for pid, channel, target, kind, distance, rank in rows]
    columns = shared_columns + VARYING
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(column) for column in columns)
    connection.exec_driver_sql(
        f"INSERT INTO delivery ({names}) VALUES ({', '.join([mark] * len(columns))})", params)


# --- end --------------------------------------------------------------------------------------


def end_action(session: Session, action: Action, operator: Operator | None, outcome: str,
               note: str, clock: Clock, settings: Settings) -> None:
    """End a running action: cancel everything still queued or held at once (one commit).

    Calls in progress finish, or are hung up by the worker when
    `settings.dialer.hang_up_in_progress_on_stop` is set. The outcome message goes out
    `settings.dialer.outcome_delay_s` after the end (the scheduler's outcome job).
    """
    if action.status != ActionStatus.RUNNING:
        raise ActionError(f"action {action.id} is {action.status.value}, not running",
                          "Alleen een lopende actie kan worden beëindigd.")
    try:
        result = Outcome(outcome)
    except ValueError:
        raise ActionError(f"unknown outcome {outcome!r}",
                          "Kies een geldige afloop voor deze actie.") from None
    now = clock.now()
    cancelled = 0
    for state in (S.QUEUED, S.HELD):
        by_channel: dict[Channel, list[int]] = defaultdict(list)
        for delivery_id, channel in session.execute(
                select(Delivery.id, Delivery.channel).where(
                    Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT,
                    Delivery.state == state)):
            by_channel[Channel(channel)].append(delivery_id)
        for channel, ids in by_channel.items():
            cancelled += transition_many(session, ids, channel, state, S.CANCELLED,
                                         event="action.ended", clock=clock)
    action.status = ActionStatus.ENDED
    action.outcome = result
    action.outcome_note = note or ""
    action.ended_at = now
    action.ended_by_id = operator.id if operator else None
    record_audit(session, "action.ended", operator=operator, target_type="action",
                 target_id=action.id, outcome=result.value, cancelled=cancelled,
                 hang_up_in_progress=settings.dialer.hang_up_in_progress_on_stop)
    session.commit()
    log_event(logger, "action.ended", action_id=action.id, outcome=result.value,
              cancelled=cancelled)


def outcome_due_at(action: Action, settings: Settings) -> datetime | None:
    if action.ended_at is None or action.outcome is None:
        return None
    return action.ended_at + timedelta(seconds=settings.dialer.outcome_delay_s)


def plan_outcome_messages(session: Session, action: Action, clock: Clock,
                          settings: Settings) -> int:
    """Queue the outcome message (afloopbericht) for everyone reached, on the same channel.

    Idempotent: `Action.outcome_sent_at` is set in the same commit. Participants who opted out
    during the alert get nothing more.
    """
    if action.status != ActionStatus.ENDED or action.outcome_sent_at is not None:
        return 0
    now = clock.now()
    reached = session.execute(
        select(Delivery.participant_id, Delivery.channel, Delivery.target, Delivery.phone_kind,
               Delivery.distance_m, Delivery.rank)
        .where(Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT,
               Delivery.state.in_(REACHED - {S.OPTED_OUT}), Delivery.target.is_not(None),
               Delivery.opt_out_requested.is_(False))
        .order_by(Delivery.rank)
    ).all()
    rows = [(row.participant_id, row.channel, row.target, row.phone_kind, row.distance_m,
             row.rank) for row in reached]
    if rows:
        insert_deliveries(session, {
            "action_id": action.id, "kind": DeliveryKind.OUTCOME, "priority": action.priority,
            "state": S.QUEUED, "created_at": now, "updated_at": now}, rows)
    action.outcome_sent_at = now
    record_audit(session, "action.outcome_message_queued", target_type="action",
                 target_id=action.id, recipients=len(rows))
    session.commit()
    log_event(logger, "outcome.planned", action_id=action.id, deliveries=len(rows))
    return len(rows)


# --- progress ---------------------------------------------------------------------------------


def action_progress(session: Session, action_id: int, clock: Clock,
                    settings: Settings) -> ActionProgress:
    """Counts by state and channel, reached, answered, acknowledged, retries and time left."""
    action = session.get(Action, action_id)
    if action is None:
        raise ActionError(f"no action {action_id}", "Deze actie bestaat niet.")
    now = clock.now()
    rows = session.execute(
        select(Delivery.kind, Delivery.channel, Delivery.state,
               func.count(), func.sum(cast(Delivery.acknowledged, Integer)))
        .where(Delivery.action_id == action_id)
        .group_by(Delivery.kind, Delivery.channel, Delivery.state)
    ).all()
    by_state: Counter[str] = Counter()
    outcome_by_state: Counter[str] = Counter()
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    acknowledged = 0
    for kind, channel, state, count, acked in rows:
        if DeliveryKind(kind) == DeliveryKind.OUTCOME:
            outcome_by_state[S(state).value] += count
            continue
        by_state[S(state).value] += count
        by_channel[Channel(channel).value][S(state).value] += count
        acknowledged += int(acked or 0)
    alert = (Delivery.action_id == action_id) & (Delivery.kind == DeliveryKind.ALERT)
    answered = session.scalar(select(func.count()).select_from(Delivery).where(
        alert, Delivery.answered_by == "human")) or 0
    pending_retries = session.scalar(select(func.count()).select_from(Delivery).where(
        alert, Delivery.state == S.QUEUED, Delivery.attempts > 0)) or 0
    calls_last_minute = session.scalar(
        select(func.count()).select_from(DeliveryEvent).join(
            Delivery, Delivery.id == DeliveryEvent.delivery_id).where(
            alert, DeliveryEvent.to_state == S.DIALING.value,
            DeliveryEvent.at >= now - timedelta(seconds=60))) or 0
    voice = by_channel.get(Channel.VOICE.value, Counter())
    finished_voice = sum(v for k, v in voice.items() if k not in
                         {S.QUEUED.value, S.HELD.value} | {s.value for s in IN_FLIGHT})
    answered_rate = (answered / finished_voice) if finished_voice >= 20 else DEFAULT_ANSWER_RATE
    waiting_voice = voice.get(S.QUEUED.value, 0) + voice.get(S.HELD.value, 0)
    in_flight = sum(voice.get(s.value, 0) for s in IN_FLIGHT)
    channels, cps = trunk_limits(session, action.control_room_id, settings)
    left = 0.0
    if action.status == ActionStatus.RUNNING and (waiting_voice or in_flight):
        left = estimate_wave_seconds(waiting_voice, channels, cps, DEFAULT_ATTEMPT_S,
                                     answered_rate)
        left = max(left, DEFAULT_ATTEMPT_S if in_flight else 0.0)
    return ActionProgress(
        action_id=action_id,
        status=action.status.value,
        total=sum(by_state.values()),
        by_state=dict(by_state),
        by_channel={channel: dict(counts) for channel, counts in by_channel.items()},
        reached=sum(by_state.get(s.value, 0) for s in REACHED),
        answered=answered,
        acknowledged=acknowledged,
        in_flight=in_flight,
        held=by_state.get(S.HELD.value, 0),
        pending_retries=pending_retries,
        calls_per_minute=calls_last_minute,
        estimated_seconds_left=round(left, 1),
        outcome_by_state=dict(outcome_by_state),
    )
