"""Per-action counts that outlive the deliveries they were counted from.

`DailyAggregate` holds, per action, one row per (channel, phone kind) with the contact points
that were tried (`recipients`), reached (the person heard the message, or got the SMS or email),
answered (picked up by a person or handed over, heard or not: the figure called "reached"
before, kept beside it) and acknowledged, plus one row with channel "all" that
counts distinct participants instead of contact points. Rows are written once an action has
ended (`freeze_action`), before the retention purge or an account deletion removes or
anonymises the deliveries; from then on the figures of that action come from these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Action,
    ActionStatus,
    Channel,
    DailyAggregate,
    Delivery,
    DeliveryKind,
    DeliveryState,
    MessageHeard,
)

ALL_CHANNELS = "all"  # the row that counts distinct participants

# A delivery was answered by a person: a voice call a human picked up, or a message handed over.
REACHED_STATES = frozenset(
    {DeliveryState.ANSWERED, DeliveryState.COMPLETED, DeliveryState.SENT, DeliveryState.DELIVERED}
)


@dataclass(frozen=True)
class Counts:
    recipients: int = 0
    reached: int = 0
    acknowledged: int = 0
    answered: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.recipients + other.recipients,
            self.reached + other.reached,
            self.acknowledged + other.acknowledged,
            self.answered + other.answered,
        )


# (channel, phone_kind) -> Counts; channel "all" counts participants.
ActionCounts = dict[tuple[str, str], Counts]


def answered_sql():
    """SQL: 1 when a person picked up the call or the message was handed over (heard or not)."""
    human_completed = and_(
        Delivery.state == DeliveryState.COMPLETED,
        or_(Delivery.answered_by.is_(None), Delivery.answered_by != "machine"),
    )
    other_reached = Delivery.state.in_([s for s in REACHED_STATES if s is not DeliveryState.COMPLETED])
    return case((or_(human_completed, other_reached), 1), else_=0)


def reached_sql():
    """SQL: 1 when a delivery reached a person (the one definition of "reached"): a person
    heard (part of) the alert message, or the SMS or email was handed over."""
    person_heard = and_(
        Delivery.channel == Channel.VOICE,
        Delivery.heard.in_([MessageHeard.PART, MessageHeard.ALL]),
        or_(Delivery.answered_by.is_(None), Delivery.answered_by != "machine"),
    )
    message = and_(
        Delivery.channel != Channel.VOICE,
        Delivery.state.in_([DeliveryState.SENT, DeliveryState.DELIVERED]),
    )
    return case((or_(person_heard, message), 1), else_=0)


def live_counts(session: Session, action_ids: list[int]) -> dict[int, ActionCounts]:
    """Count the alert deliveries of actions in the database (two grouped queries per chunk)."""
    result: dict[int, ActionCounts] = {a: {} for a in action_ids}
    reached = reached_sql()
    answered = answered_sql()
    acknowledged = case((Delivery.acknowledged.is_(True), 1), else_=0)
    for chunk in _chunks(action_ids):
        alert = and_(Delivery.action_id.in_(chunk), Delivery.kind == DeliveryKind.ALERT)
        for action_id, channel, kind, n, r, a, p in session.execute(
            select(
                Delivery.action_id,
                Delivery.channel,
                Delivery.phone_kind,
                func.count(),
                func.sum(reached),
                func.sum(acknowledged),
                func.sum(answered),
            )
            .where(alert)
            .group_by(Delivery.action_id, Delivery.channel, Delivery.phone_kind)
        ):
            key = (_value(channel), _value(kind) if kind is not None else "")
            result[action_id][key] = Counts(n, int(r or 0), int(a or 0), int(p or 0))
        # An anonymised delivery (participant deleted) still counts as one person.
        person = func.coalesce(Delivery.participant_id, -Delivery.id)
        per_person = (
            select(
                Delivery.action_id.label("action_id"),
                person.label("person"),
                func.max(reached).label("r"),
                func.max(acknowledged).label("a"),
                func.max(answered).label("p"),
            )
            .where(alert)
            .group_by(Delivery.action_id, person)
            .subquery()
        )
        for action_id, n, r, a, p in session.execute(
            select(
                per_person.c.action_id,
                func.count(),
                func.sum(per_person.c.r),
                func.sum(per_person.c.a),
                func.sum(per_person.c.p),
            ).group_by(per_person.c.action_id)
        ):
            result[action_id][(ALL_CHANNELS, "")] = Counts(n, int(r or 0), int(a or 0), int(p or 0))
    return result


def _value(member) -> str:
    return member.value if hasattr(member, "value") else str(member)


def frozen_counts(session: Session, action_ids: list[int]) -> dict[int, ActionCounts]:
    result: dict[int, ActionCounts] = {}
    if not action_ids:
        return result
    for chunk in _chunks(action_ids):
        for row in session.scalars(select(DailyAggregate).where(DailyAggregate.action_id.in_(chunk))):
            result.setdefault(row.action_id, {})[(row.channel, row.phone_kind or "")] = Counts(
                row.recipients, row.reached, row.acknowledged, row.answered
            )
    return result


def action_counts(session: Session, action_ids: list[int]) -> dict[int, ActionCounts]:
    """Figures per action: the frozen aggregate when there is one, else a live count."""
    result = frozen_counts(session, action_ids)
    result.update(live_counts(session, [a for a in action_ids if a not in result]))
    return result


def freeze_action(session: Session, action: Action) -> bool:
    """Write the aggregate rows of an ended action once. Returns True when rows were written."""
    if ActionStatus(action.status) is not ActionStatus.ENDED:
        return False
    exists = session.scalar(select(DailyAggregate.id).where(DailyAggregate.action_id == action.id).limit(1))
    if exists is not None:
        return False
    counts = live_counts(session, [action.id])[action.id]
    if not counts:
        counts = {(ALL_CHANNELS, ""): Counts()}  # marks the action as frozen with nobody reached
    for (channel, kind), c in counts.items():
        session.add(
            DailyAggregate(
                action_id=action.id,
                channel=channel,
                phone_kind=kind,
                recipients=c.recipients,
                reached=c.reached,
                answered=c.answered,
                acknowledged=c.acknowledged,
            )
        )
    session.flush()
    return True


def freeze_actions(session: Session, action_ids: list[int]) -> int:
    frozen = 0
    for chunk in _chunks(sorted(set(action_ids))):
        for action in session.scalars(select(Action).where(Action.id.in_(chunk))):
            frozen += freeze_action(session, action)
    return frozen


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]
