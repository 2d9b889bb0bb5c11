"""An action's wave: the texts frozen, one queued delivery per contact point in the circle.

`launch_wave` marks a draft running and plans its wave in one commit; `plan_wave` plans (and
re-plans) the deliveries; `insert_deliveries` writes thousands of rows with one executemany.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from actions.errors import ActionError
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
    MessageHeard,
    Operator,
    PhoneKind,
)
from deliveries.quiet_hours import held_until, quiet_window
from deliveries.states import REACHED, transition_many
from participants.selection import select_recipients
from prompts.callback_number import callback_number_for, sender_for
from prompts.messages import compose_alert
from prompts.place import area_of

logger = logging.getLogger(__name__)

S = DeliveryState


def launch_wave(
    session: Session, action: Action, operator: Operator | None, clock: Clock, settings: Settings
) -> int:
    """Freeze the texts, mark the action running, audit it and plan its wave (one commit).

    The last step of actions.start.start_action, after the rules have been checked; only that
    function (and benchmarks that time the planning itself) call it. Returns the planned count.
    """

    if action.status != ActionStatus.DRAFT:
        raise ActionError(
            f"action {action.id} is {action.status.value}, not a draft",
            "Deze actie is al gestart of beëindigd.",
        )
    incident = action.incident_type.value
    message = compose_alert(
        incident,
        action.description or {},
        action.free_text or "",
        callback_number_for(action.control_room, settings.callback_number),
        area=area_of(action.location_label or ""),
        sender=sender_for(action.control_room, settings),
    )
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
    record_audit(
        session,
        "action.started",
        operator=operator,
        target_type="action",
        target_id=action.id,
        incident_type=incident,
        radius_m=action.radius_m,
        training=action.training,
    )
    planned = plan_wave(session, action, clock, settings)
    log_event(
        logger,
        "action.started",
        action_id=action.id,
        incident_type=incident,
        deliveries=planned,
        training=action.training,
    )
    return planned


def plan_wave(session: Session, action: Action, clock: Clock, settings: Settings) -> int:
    """One queued delivery per contact point in the circle, nearest first; returns the count.

    Voice rows that fall in the control room's quiet hours (non-urgent actions) are held until
    the window ends: reported as held, not lost. Commits once, so the wave exists completely
    or not at all. Planning twice (or again after the circle changed) adds only participants
    not planned before.
    """

    now = clock.now()
    rows = new_contact_points(session, action, now, settings.timezone)
    if rows:
        insert_deliveries(
            session,
            {
                "action_id": action.id,
                "kind": DeliveryKind.ALERT,
                "priority": action.priority,
                "state": S.QUEUED,
                "created_at": now,
                "updated_at": now,
            },
            rows,
        )
    hold_until = held_until(quiet_window(action.control_room, settings), action.urgent, now)
    held = 0
    if hold_until is not None:
        voice_ids = list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.action_id == action.id,
                    Delivery.channel == Channel.VOICE,
                    Delivery.state == S.QUEUED,
                    Delivery.kind == DeliveryKind.ALERT,
                )
            )
        )
        held = transition_many(
            session,
            voice_ids,
            Channel.VOICE,
            S.QUEUED,
            S.HELD,
            event="quiet_hours.held",
            clock=clock,
            values={"next_attempt_at": hold_until},
            until=hold_until.isoformat(),
        )
    session.commit()
    log_event(logger, "wave.planned", action_id=action.id, deliveries=len(rows), held=held)
    return len(rows)


def new_contact_points(session: Session, action: Action, now, timezone: str) -> list[tuple]:
    """The contact points in the action's circle that have no alert yet, nearest first, as
    rows of the VARYING columns. A participant already planned (through any contact point,
    e.g. from the circle before it moved) is not added again: nobody gets the alert twice.
    Address time windows are read in `timezone` (settings.timezone)."""
    recipients = select_recipients(
        session,
        action.lat,
        action.lon,
        action.radius_m,
        now,
        channels=action.channels or None,
        timezone=timezone,
    )
    existing: set[tuple[str, str | None]] = set()
    planned_participants: set[int] = set()
    for channel, target, participant_id in session.execute(
        select(Delivery.channel, Delivery.target, Delivery.participant_id).where(
            Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT
        )
    ):
        existing.add((channel, target))
        if participant_id is not None:
            planned_participants.add(participant_id)
    rows = []
    for rank, recipient in enumerate(recipients):
        if (recipient.channel, recipient.target) in existing:
            continue
        if recipient.participant_id in planned_participants:
            continue
        existing.add((recipient.channel, recipient.target))
        rows.append(
            (
                recipient.participant_id,
                recipient.channel,
                recipient.target,
                recipient.phone_kind,
                recipient.distance_m,
                rank,
            )
        )
    return rows


# The columns that differ from row to row; everything else is common to the whole wave.
VARYING = ("participant_id", "channel", "target", "phone_kind", "distance_m", "rank")
# Python-side defaults of the model, which a driver-level insert must give itself.
_DEFAULTS = {
    "acknowledged": False,
    "transfer_requested": False,
    "opt_out_requested": False,
    "menu_choices": "",
    "attempts": 0,
    "revision": 0,
}


def reached_contact_rows(session: Session, action_id: int) -> list[tuple]:
    """The contact points an action's alert reached, as `insert_deliveries` rows, nearest
    first: whom an outcome message or an update goes to. Those who opted out during the
    alert are left out, and so are calls answered and ended before any of the message was
    heard (MessageHeard.NONE) without a key that answered it: an update or an outcome of an
    alert they never heard would only confuse. A call whose hearing is not known (in
    progress, or made before it was recorded) still counts, as does one acknowledged."""
    reached = session.execute(
        select(
            Delivery.participant_id,
            Delivery.channel,
            Delivery.target,
            Delivery.phone_kind,
            Delivery.distance_m,
            Delivery.rank,
        )
        .where(
            Delivery.action_id == action_id,
            Delivery.kind == DeliveryKind.ALERT,
            Delivery.state.in_(REACHED - {DeliveryState.OPTED_OUT}),
            Delivery.target.is_not(None),
            Delivery.opt_out_requested.is_(False),
            or_(
                Delivery.heard.is_(None), Delivery.heard != MessageHeard.NONE, Delivery.acknowledged.is_(True)
            ),
        )
        .order_by(Delivery.rank)
    ).all()
    return [tuple(row) for row in reached]


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
    params = [
        shared_values + (pid, channels[channel], target, kinds[kind], distance, rank)
        for pid, channel, target, kind, distance, rank in rows
    ]
    columns = shared_columns + VARYING
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(column) for column in columns)
    connection.exec_driver_sql(
        f"INSERT INTO delivery ({names}) VALUES ({', '.join([mark] * len(columns))})", params
    )
