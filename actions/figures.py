"""The figures of finished and running actions (the overview, the live page, the API, the
evaluation): recipients, reached, answered, acknowledged, sightings and the time to the first one.

"Reached" means the message got through: a call that played (part of) the alert message to the
person or their voicemail, an SMS or email handed over (deliveries.listening). "Answered" is
the figure called reached before, named for what it is: calls picked up (heard or not) and
messages handed over (deliveries.states.REACHED)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Action, Delivery, DeliveryKind, DeliveryState, Sighting
from deliveries.listening import heard_the_message_sql
from deliveries.states import REACHED


@dataclass(frozen=True)
class ActionFigures:
    recipients: int
    reached: int
    acknowledged: int
    sightings: int
    first_sighting_s: float | None
    outcome_recipients: int
    update_recipients: int = 0  # updates (vervolgberichten) queued for the reached
    answered: int = 0


def figures_for(s: Session, actions: list[Action]) -> dict[int, ActionFigures]:
    """The figures the evaluation needs, for many actions in a fixed number of queries.

    "Reached" and "answered" have one definition each (module docstring), so the list, the
    live page and the progress agree."""

    ids = [a.id for a in actions]
    if not ids:
        return {}
    reached_states = [state.value for state in REACHED]
    heard = heard_the_message_sql().label("heard")
    rows = s.execute(
        select(Delivery.action_id, Delivery.kind, Delivery.state, Delivery.acknowledged, heard, func.count())
        .where(Delivery.action_id.in_(ids))
        .group_by(Delivery.action_id, Delivery.kind, Delivery.state, Delivery.acknowledged, heard)
    ).all()
    counts = {
        i: {"recipients": 0, "reached": 0, "answered": 0, "acknowledged": 0, "outcome": 0, "update": 0}
        for i in ids
    }
    for action_id, kind, state, acknowledged, got_it, n in rows:
        if action_id is None:
            continue
        c = counts[action_id]
        if DeliveryKind(kind) == DeliveryKind.OUTCOME:
            c["outcome"] += n
            continue
        if DeliveryKind(kind) == DeliveryKind.UPDATE:
            c["update"] += n
            continue
        c["recipients"] += n
        if DeliveryState(state).value in reached_states:
            c["answered"] += n
        if got_it:
            c["reached"] += n
        if acknowledged:
            c["acknowledged"] += n
    sightings = {
        action_id: (n, first)
        for action_id, n, first in s.execute(
            select(Sighting.action_id, func.count(), func.min(Sighting.received_at))
            .where(Sighting.action_id.in_(ids), Sighting.left_a_report())
            .group_by(Sighting.action_id)
        )
    }
    result = {}
    for action in actions:
        c = counts[action.id]
        n, first = sightings.get(action.id, (0, None))
        first_s = None
        if first is not None and action.started_at is not None:
            first_s = max(0.0, (first - action.started_at).total_seconds())
        result[action.id] = ActionFigures(
            c["recipients"],
            c["reached"],
            c["acknowledged"],
            n,
            first_s,
            c["outcome"],
            update_recipients=c["update"],
            answered=c["answered"],
        )
    return result


def figures(s: Session, action: Action) -> ActionFigures:
    return figures_for(s, [action])[action.id]
