"""How far an action is: counts by state and channel, reached, answered, acknowledged, the
retries waiting, calls per minute, how the trunk's lines are shared with the other running
actions, and an estimate of the time left.

The estimate: before calls flow, the trunk's limits times this action's share of them (the
same model the preview shows before the start, with the full trunk); once calls have flowed
for a minute, the measured rate of this action's calls; during night rest (voice calls held
until the quiet hours end), the wait until then plus the model."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, case, cast, func, select
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
    IncidentType,
    Trunk,
)
from deliveries.listening import heard_the_message_sql
from deliveries.quiet_hours import held_until, quiet_window
from deliveries.states import IN_FLIGHT
from deliveries.trunk_share import share_fractions

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
    # The updates (vervolgberichten) to those already reached, by state (actions.change).
    update_by_state: dict[str, int] = field(default_factory=dict)
    # The actions sharing the trunk with this one now (TrunkShare), this one included.
    sharing: list[TrunkShare] = field(default_factory=list)
    share: float | None = None  # this action's share of the lines and calls per second
    # What the estimate rests on: "measured" (the calls of the last minute), "share" (the
    # trunk's limits times the share), "night_rest" (held until `resumes_at`, then the share).
    estimate_basis: str = ""
    resumes_at: datetime | None = None

    @property
    def queued(self) -> int:
        return self.by_state.get(S.QUEUED.value, 0)


@dataclass(frozen=True)
class TrunkShare:
    """One action with voice calls on the trunk: its share and the lines it holds now."""

    action_id: int
    incident_type: str
    kind: str  # alert, or outcome (the outcome message after the action ended)
    own_control_room: bool
    share: float | None  # None: nothing left waiting, its last calls are in flight
    lines: int
    waiting: int


def estimate_wave_seconds(
    recipient_count: int, channels: float, cps: float, avg_call_s: float, answer_rate: float
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


def _trunk_pool(session: Session, control_room_id: int | None) -> int | None:
    """The control room whose own trunks carry its calls, or None for the shared trunks."""
    if control_room_id is None:
        return None
    own = session.scalar(
        select(func.count()).select_from(Trunk).where(Trunk.active, Trunk.control_room_id == control_room_id)
    )
    return control_room_id if own else None


def trunk_sharing(session: Session, action: Action, settings: Settings) -> list[TrunkShare]:
    """The actions whose voice calls share the trunks of this action's control room now, with
    the shares the dialer gives them (deliveries.trunk_share), largest first."""
    holding = Delivery.state.in_(IN_FLIGHT)
    waiting = Delivery.state == S.QUEUED
    rows = session.execute(
        select(
            Delivery.action_id,
            Action.control_room_id,
            Action.incident_type,
            Action.status,
            func.max(Delivery.priority),
            func.sum(case((holding, 1), else_=0)),
            func.sum(case((waiting, 1), else_=0)),
        )
        .join(Action, Action.id == Delivery.action_id)
        .where(
            Delivery.channel == Channel.VOICE,
            Delivery.kind != DeliveryKind.VERIFICATION,
            holding | waiting,
            (Action.status == ActionStatus.RUNNING) | (Delivery.kind == DeliveryKind.OUTCOME),
        )
        .group_by(Delivery.action_id, Action.control_room_id, Action.incident_type, Action.status)
    ).all()
    pool = _trunk_pool(session, action.control_room_id)
    pools: dict[int, int | None] = {}
    flows = []
    for action_id, room_id, incident, status, priority, lines, queued in rows:
        if room_id not in pools:
            pools[room_id] = _trunk_pool(session, room_id)
        if pools[room_id] == pool:
            flows.append(
                (action_id, room_id, incident, status, priority or 0, int(lines or 0), int(queued or 0))
            )
    shares = share_fractions({f[0]: f[4] for f in flows if f[6] > 0}, settings.dialer.min_share)
    listed = [
        TrunkShare(
            action_id=action_id,
            incident_type=IncidentType(incident).value,
            kind="alert" if ActionStatus(status) == ActionStatus.RUNNING else "outcome",
            own_control_room=room_id == action.control_room_id,
            share=round(shares[action_id], 3) if action_id in shares else None,
            lines=lines,
            waiting=queued,
        )
        for action_id, room_id, incident, status, _priority, lines, queued in flows
    ]
    listed.sort(key=lambda item: (-(item.share or 0.0), -item.lines, item.action_id))
    return listed


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
    update_by_state: Counter[str] = Counter()
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    acknowledged = 0
    for kind, channel, state, count, acked in rows:
        if DeliveryKind(kind) == DeliveryKind.OUTCOME:
            outcome_by_state[S(state).value] += count
            continue
        if DeliveryKind(kind) == DeliveryKind.UPDATE:
            update_by_state[S(state).value] += count
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
    sharing = trunk_sharing(session, action, settings) if action.status == ActionStatus.RUNNING else []
    share = next((item.share for item in sharing if item.action_id == action_id), None)
    left = 0.0
    basis = ""
    resumes_at = None
    if action.status == ActionStatus.RUNNING and (waiting_voice or in_flight):
        part = share if share is not None else 1.0
        left = estimate_wave_seconds(
            waiting_voice, channels * part, cps * part, DEFAULT_ATTEMPT_S, answered_rate
        )
        basis = "share"
        resumes_at = _night_rest_until(session, action, now, settings)
        running_s = (now - action.started_at).total_seconds() if action.started_at else 0.0
        if resumes_at is not None:
            left += (resumes_at - now).total_seconds()
            basis = "night_rest"
        elif running_s >= 60 and calls_last_minute > 0:
            # Calls flow: the queue drains at the rate measured, not at the trunk's best.
            attempts_left = waiting_voice * (2.0 - min(max(answered_rate, 0.0), 1.0))
            left = attempts_left / (calls_last_minute / 60.0) + DEFAULT_ATTEMPT_S
            basis = "measured"
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
        update_by_state=dict(update_by_state),
        sharing=sharing,
        share=share,
        estimate_basis=basis,
        resumes_at=resumes_at,
    )


def _night_rest_until(session: Session, action: Action, now: datetime, settings: Settings) -> datetime | None:
    """When this action's voice calls may go out again, if night rest holds them now."""
    until = held_until(quiet_window(action.control_room, settings), action.urgent, now)
    if until is not None:
        return until
    held = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.action_id == action.id,
            Delivery.channel == Channel.VOICE,
            Delivery.state == S.HELD,
        )
    )
    return held if held is not None and held > now else None
