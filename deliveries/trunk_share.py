"""Sharing one trunk between the actions that have calls to make (pure, plus one query).

Each action with voice calls waiting (its alerts, or after it ended its outcome messages) is a
flow. A flow's share of the trunk is its incident priority's weight, with a floor: every flow
with work gets at least `min_share` of the lines and of the calls per second, so a stolen
bicycle is never starved by a missing child (with more flows than 1 / min_share, equal shares).

The next calls go by weighted dominant-resource fairness: each call goes to the flow that
uses the smallest part of its share, counting both resources (the lines it holds now, the
calls it started in the last `window_s`), whichever of the two it uses more of. A flow that
cannot use its share (nothing due) leaves it to the others, so the trunk never idles while
any flow has work. Retries and outcome messages are calls of their action's flow: they take
their turn in its share, never ahead of another action.

Everything the decision needs is in the database (the rows in flight and the recent starts
on the trunk), so it holds across several dialer processes sharing the trunk: their claims
are serialised on the trunk row.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from db.models import Channel, Delivery
from deliveries.states import IN_FLIGHT

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class FlowUse:
    """One flow's use of the trunk right now."""

    key: int | None  # the action's id (None: calls that belong to no action)
    weight: float  # the incident priority
    lines: int = 0  # its calls holding a line on the trunk now
    recent: int = 0  # its calls started on the trunk in the last window
    waiting: int = 0  # its calls that could be placed now (at least)


def share_fractions(weights: Mapping[K, float], min_share: float) -> dict[K, float]:
    """Each flow's share (summing to 1): the floor, plus the rest by weight."""
    if not weights:
        return {}
    n = len(weights)
    floor = min(max(min_share, 0.0), 1.0 / n)
    rest = 1.0 - n * floor
    positive = {key: max(float(weight), 1.0) for key, weight in weights.items()}
    total = sum(positive.values())
    return {key: floor + rest * weight / total for key, weight in positive.items()}


def share_order(
    flows: Sequence[FlowUse],
    budget: int,
    *,
    channels: int,
    cps: float,
    window_s: float,
    min_share: float,
) -> list[int | None]:
    """The flows the next `budget` calls go to, in order (a flow appears at most `waiting`
    times). The shares are those of the flows with work now (`waiting` > 0)."""
    working = [flow for flow in flows if flow.waiting > 0]
    if budget <= 0 or not working:
        return []
    shares = share_fractions({flow.key: flow.weight for flow in working}, min_share)
    line_cap = max(float(channels), 1.0)
    rate_cap = max(cps * window_s, 1.0)
    lines = {flow.key: flow.lines for flow in working}
    recent = {flow.key: flow.recent for flow in working}
    left = {flow.key: flow.waiting for flow in working}

    def used(key: int | None) -> tuple[float, float, int]:
        share = shares[key]
        dominant = max(lines[key] / (share * line_cap), recent[key] / (share * rate_cap))
        return (dominant, -share, -1 if key is None else key)

    order: list[int | None] = []
    for _ in range(budget):
        open_keys = [key for key, count in left.items() if count > 0]
        if not open_keys:
            break
        key = min(open_keys, key=used)
        order.append(key)
        lines[key] += 1
        recent[key] += 1
        left[key] -= 1
    return order


def trunk_use(
    session: Session, trunk_id: int, now: datetime, window_s: float
) -> dict[int | None, tuple[int, int]]:
    """Per action: (calls holding a line on the trunk, voice calls started there in the window)."""
    since = now - timedelta(seconds=window_s)
    holding = Delivery.state.in_(IN_FLIGHT)
    started = and_(Delivery.channel == Channel.VOICE, Delivery.last_attempt_at > since)
    rows = session.execute(
        select(
            Delivery.action_id,
            func.sum(case((holding, 1), else_=0)),
            func.sum(case((started, 1), else_=0)),
        )
        .where(Delivery.trunk_id == trunk_id, holding | started)
        .group_by(Delivery.action_id)
    ).all()
    return {action_id: (int(lines or 0), int(recent or 0)) for action_id, lines, recent in rows}
