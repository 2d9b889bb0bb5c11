"""How far an action is: counts by state and channel, reached, answered, acknowledged, the
retries waiting, calls per minute, and an estimate of the time left at the trunk's limits (the
same estimate the preview shows before the start)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from actions.errors import ActionNotFound
from config.clock import Clock
from config.settings import Settings
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    Trunk,
)
from deliveries.listening import heard_the_message_sql
from deliveries.states import IN_FLIGHT

S = DeliveryState
# Assumed until an action has figures of its own.
DEFAULT_ANSWER_RATE = 0.7
DEFAULT_ATTEMPT_S = 30.0


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


def estimate_wave_seconds(
    recipient_count: int, channels: int, cps: float, avg_call_s: float, answer_rate: float
) -> float:
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


def trunk_limits(session: Session, control_room_id: int | None, settings: Settings) -> tuple[int, float]:
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


def action_progress(session: Session, action_id: int, clock: Clock, settings: Settings) -> ActionProgress:
    """Counts by state and channel, reached, answered, acknowledged, retries and time left."""
    action = session.get(Action, action_id)
    if action is None:
        raise ActionNotFound(f"no action {action_id}", "Deze actie bestaat niet.")
    now = clock.now()
    rows = session.execute(
        select(
            Delivery.kind,
            Delivery.channel,
            Delivery.state,
            func.count(),
            func.sum(cast(Delivery.acknowledged, Integer)),
        )
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
    answered = (
        session.scalar(
            select(func.count()).select_from(Delivery).where(alert, Delivery.answered_by == "human")
        )
        or 0
    )
    # Got the message through (deliveries.listening); calls picked up but not heard do not count.
    reached = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.action_id == action_id,
                Delivery.kind != DeliveryKind.OUTCOME,
                heard_the_message_sql(),
            )
        )
        or 0
    )
    pending_retries = (
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(alert, Delivery.state == S.QUEUED, Delivery.attempts > 0)
        )
        or 0
    )
    calls_last_minute = (
        session.scalar(
            select(func.count())
            .select_from(DeliveryEvent)
            .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
            .where(
                alert,
                DeliveryEvent.to_state == S.DIALING.value,
                DeliveryEvent.at >= now - timedelta(seconds=60),
            )
        )
        or 0
    )
    voice = by_channel.get(Channel.VOICE.value, Counter())
    finished_voice = sum(
        v for k, v in voice.items() if k not in {S.QUEUED.value, S.HELD.value} | {s.value for s in IN_FLIGHT}
    )
    answered_rate = (answered / finished_voice) if finished_voice >= 20 else DEFAULT_ANSWER_RATE
    waiting_voice = voice.get(S.QUEUED.value, 0) + voice.get(S.HELD.value, 0)
    in_flight = sum(voice.get(s.value, 0) for s in IN_FLIGHT)
    channels, cps = trunk_limits(session, action.control_room_id, settings)
    left = 0.0
    if action.status == ActionStatus.RUNNING and (waiting_voice or in_flight):
        left = estimate_wave_seconds(waiting_voice, channels, cps, DEFAULT_ATTEMPT_S, answered_rate)
        left = max(left, DEFAULT_ATTEMPT_S if in_flight else 0.0)
    return ActionProgress(
        action_id=action_id,
        status=action.status.value,
        total=sum(by_state.values()),
        by_state=dict(by_state),
        by_channel={channel: dict(counts) for channel, counts in by_channel.items()},
        reached=reached,
        answered=answered,
        acknowledged=acknowledged,
        in_flight=in_flight,
        held=by_state.get(S.HELD.value, 0),
        pending_retries=pending_retries,
        calls_per_minute=calls_last_minute,
        estimated_seconds_left=round(left, 1),
        outcome_by_state=dict(outcome_by_state),
    )
