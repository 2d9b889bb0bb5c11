"""Per-action counts that outlive the deliveries they were counted from.

`DailyAggregate` holds, per action, one row per (channel, phone kind) with the contact points
that were tried (`recipients`), reached and acknowledged, plus one row with channel "all" that
counts distinct participants instead of contact points. Rows are written once an action has
ended (`freeze_action`), before the retention purge or an account deletion removes or
anonymises the deliveries; from then on the figures of that action come from these rows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Action, ActionStatus, DailyAggregate, Delivery, DeliveryKind, DeliveryState

ALL_CHANNELS = "all"  # the row that counts distinct participants

# A delivery reached a person: a voice call answered by a human, or a message handed over.
REACHED_STATES = frozenset(
    {DeliveryState.ANSWERED, DeliveryState.COMPLETED, DeliveryState.SENT, DeliveryState.DELIVERED}
)


@dataclass(frozen=True)
class Counts:
    recipients: int = 0
    reached: int = 0
    acknowledged: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.recipients + other.recipients,
            self.reached + other.reached,
            self.acknowledged + other.acknowledged,
        )


# (channel, phone_kind) -> Counts; channel "all" counts participants.
ActionCounts = dict[tuple[str, str], Counts]


def is_reached(delivery: Delivery) -> bool:
    state = DeliveryState(delivery.state)
    if state is DeliveryState.COMPLETED and delivery.answered_by == "machine":
        return False
    return state in REACHED_STATES


def count_deliveries(deliveries: list[Delivery]) -> ActionCounts:
    """Count one action's alert deliveries (pure: no database access)."""
    per_kind: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    people: dict[object, list[bool]] = {}
    for d in deliveries:
        if DeliveryKind(d.kind) is not DeliveryKind.ALERT:
            continue
        channel = d.channel.value if hasattr(d.channel, "value") else str(d.channel)
        kind = d.phone_kind.value if hasattr(d.phone_kind, "value") else (d.phone_kind or "")
        reached = is_reached(d)
        row = per_kind[(channel, kind)]
        row[0] += 1
        row[1] += reached
        row[2] += bool(d.acknowledged)
        # An anonymised delivery (participant deleted) still counts as one person.
        person = d.participant_id if d.participant_id is not None else ("anon", d.id)
        seen = people.setdefault(person, [False, False])
        seen[0] = seen[0] or reached
        seen[1] = seen[1] or bool(d.acknowledged)
    counts: ActionCounts = {key: Counts(*row) for key, row in per_kind.items()}
    if people:
        counts[(ALL_CHANNELS, "")] = Counts(
            recipients=len(people),
            reached=sum(1 for r, _ in people.values() if r),
            acknowledged=sum(1 for _, a in people.values() if a),
        )
    return counts


def frozen_counts(session: Session, action_ids: list[int]) -> dict[int, ActionCounts]:
    result: dict[int, ActionCounts] = {}
    if not action_ids:
        return result
    for chunk in _chunks(action_ids):
        for row in session.scalars(select(DailyAggregate).where(DailyAggregate.action_id.in_(chunk))):
            result.setdefault(row.action_id, {})[(row.channel, row.phone_kind or "")] = Counts(
                row.recipients, row.reached, row.acknowledged
            )
    return result


def action_counts(session: Session, action_ids: list[int]) -> dict[int, ActionCounts]:
    """Figures per action: the frozen aggregate when there is one, else a live count."""
    result = frozen_counts(session, action_ids)
    live = [a for a in action_ids if a not in result]
    by_action: dict[int, list[Delivery]] = defaultdict(list)
    for chunk in _chunks(live):
        for d in session.scalars(
            select(Delivery).where(
                Delivery.action_id.in_(chunk), Delivery.kind == DeliveryKind.ALERT
            )
        ):
            by_action[d.action_id].append(d)
    for action_id in live:
        result[action_id] = count_deliveries(by_action.get(action_id, []))
    return result


def freeze_action(session: Session, action: Action) -> bool:
    """Write the aggregate rows of an ended action once. Returns True when rows were written."""
    if ActionStatus(action.status) is not ActionStatus.ENDED:
        return False
    exists = session.scalar(
        select(DailyAggregate.id).where(DailyAggregate.action_id == action.id).limit(1)
    )
    if exists is not None:
        return False
    deliveries = list(session.scalars(select(Delivery).where(Delivery.action_id == action.id)))
    counts = count_deliveries(deliveries)
    if not counts:
        counts = {(ALL_CHANNELS, ""): Counts()}  # marks the action as frozen with nobody reached
    for (channel, kind), c in counts.items():
        session.add(
            DailyAggregate(
                action_id=action.id, channel=channel, phone_kind=kind,
                recipients=c.recipients, reached=c.reached, acknowledged=c.acknowledged,
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
