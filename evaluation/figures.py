"""The pilot's figures for a period and a control room or municipality.

Actions count in a period by their start time (`started_at` in [start, end)). Per-action
counts come from the frozen aggregates when an action has them, otherwise from its
deliveries (evaluation.aggregates), so the figures stay the same after the retention purge.

An action's municipality is that of the nearest geocoded participant address or gazetteer
address within about two kilometres of its point ("onbekend" when there is none): actions
carry a point, not a municipality.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    Action,
    ActionRevision,
    ActionStatus,
    Address,
    AddressKind,
    ControlRoom,
    GazetteerAddress,
    Municipality,
    Outcome,
    Participant,
    ParticipantStatus,
    RevisionKind,
    Sighting,
)
from evaluation.aggregates import ALL_CHANNELS, Counts, action_counts

DIRECT_RESULTS = frozenset({Outcome.ARRESTED, Outcome.FOUND, Outcome.VEHICLE_FOUND})
UNKNOWN_MUNICIPALITY = "onbekend"
NEAR_DEG = 0.02  # about 2.2 km north-south, 1.4 km east-west at Dutch latitudes


class EvaluationError(ValueError):
    """A report that cannot be made as asked (for example a period that ends before it starts)."""


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    control_room_id: int | None = None
    municipality: str | None = None
    include_training: bool = False

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise EvaluationError("period bounds must be timezone-aware")
        if self.end <= self.start:
            raise EvaluationError("the period must end after it starts")


@dataclass(frozen=True)
class Changes:
    """What changed while an action ran (actions.change): updates sent (vervolgberichten) and
    to how many of the reached, circles widened or moved and how many that added."""

    updates: int = 0
    update_recipients: int = 0
    area_changes: int = 0
    recipients_added: int = 0

    def __add__(self, other: Changes) -> Changes:
        return Changes(
            self.updates + other.updates,
            self.update_recipients + other.update_recipients,
            self.area_changes + other.area_changes,
            self.recipients_added + other.recipients_added,
        )


@dataclass(frozen=True)
class ActionFigures:
    id: int
    incident_type: str
    outcome: str  # outcome value, or the status ("running", "draft") while there is none
    control_room: str
    municipality: str
    started_at: datetime
    ended_at: datetime | None
    counts: dict[tuple[str, str], Counts]
    sightings: int
    first_sighting_s: float | None
    changes: Changes = field(default_factory=lambda: Changes())

    @property
    def people(self) -> Counts:
        return self.counts.get((ALL_CHANNELS, ""), Counts())

    @property
    def direct_result(self) -> bool:
        return self.outcome in {o.value for o in DIRECT_RESULTS}


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    phone_kind: str
    counts: Counts

    @property
    def answer_rate(self) -> float | None:
        return self.counts.reached / self.counts.recipients if self.counts.recipients else None

    @property
    def acknowledge_rate(self) -> float | None:
        return self.counts.acknowledged / self.counts.recipients if self.counts.recipients else None


@dataclass(frozen=True)
class GrowthRow:
    municipality: str
    month: str  # "2026-11"
    new: int
    total: int  # registered at the end of the month


@dataclass(frozen=True)
class CoverageRow:
    municipality: str
    participants: int
    population: int | None

    @property
    def per_thousand(self) -> float | None:
        return 1000 * self.participants / self.population if self.population else None


@dataclass
class Report:
    scope: Scope
    actions: list[ActionFigures]
    by_type_outcome: dict[tuple[str, str], int]
    channels: list[ChannelFigures]
    growth: list[GrowthRow]
    coverage: list[CoverageRow]
    people: Counts = field(default_factory=Counts)

    @property
    def action_count(self) -> int:
        return len(self.actions)

    @property
    def sightings(self) -> int:
        return sum(a.sightings for a in self.actions)

    @property
    def changes(self) -> Changes:
        return sum((a.changes for a in self.actions), Changes())

    @property
    def sightings_per_action(self) -> float | None:
        return self.sightings / len(self.actions) if self.actions else None

    @property
    def first_sighting_seconds(self) -> list[float]:
        return sorted(a.first_sighting_s for a in self.actions if a.first_sighting_s is not None)

    @property
    def first_sighting_median_s(self) -> float | None:
        values = self.first_sighting_seconds
        return statistics.median(values) if values else None

    @property
    def first_sighting_mean_s(self) -> float | None:
        values = self.first_sighting_seconds
        return statistics.fmean(values) if values else None

    @property
    def ended_actions(self) -> list[ActionFigures]:
        return [a for a in self.actions if a.ended_at is not None]

    @property
    def direct_result_share(self) -> float | None:
        ended = self.ended_actions
        return sum(a.direct_result for a in ended) / len(ended) if ended else None


# --- municipality of a point ---------------------------------------------------------------


def municipality_at(session: Session, lat: float, lon: float) -> str:
    """The municipality of the nearest known address near a point: participants' addresses
    first (indexed on lat, lon), then the gazetteer; a small box first, a wider one after."""
    # Squared degrees, with longitude shrunk by cos(52 deg): fine for ranking within 2 km.
    for model in (Address, GazetteerAddress):
        for half in (NEAR_DEG / 8, NEAR_DEG):
            distance = (model.lat - lat) * (model.lat - lat) + 0.38 * (model.lon - lon) * (model.lon - lon)
            name = session.scalar(
                select(model.municipality)
                .where(model.lat.between(lat - half, lat + half))
                .where(model.lon.between(lon - half, lon + half))
                .where(model.municipality.is_not(None))
                .order_by(distance)
                .limit(1)
            )
            if name:
                return name
    return UNKNOWN_MUNICIPALITY


# --- the report ------------------------------------------------------------------------------


def actions_in_scope(session: Session, scope: Scope) -> list[tuple[Action, str]]:
    query = (
        select(Action)
        .where(Action.started_at >= scope.start, Action.started_at < scope.end)
        .order_by(Action.started_at, Action.id)
    )
    if scope.control_room_id is not None:
        query = query.where(Action.control_room_id == scope.control_room_id)
    if not scope.include_training:
        query = query.where(Action.training.is_(False))
    result = []
    cache: dict[tuple[float, float], str] = {}
    for action in session.scalars(query):
        key = (round(action.lat, 4), round(action.lon, 4))
        if key not in cache:
            cache[key] = municipality_at(session, action.lat, action.lon)
        if scope.municipality is None or cache[key] == scope.municipality:
            result.append((action, cache[key]))
    return result


def _sighting_figures(session: Session, actions: list[Action]) -> dict[int, tuple[int, datetime | None]]:
    figures: dict[int, tuple[int, datetime | None]] = {}
    ids = [a.id for a in actions]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for action_id, count, first in session.execute(
            select(Sighting.action_id, func.count(), func.min(Sighting.received_at))
            .where(Sighting.action_id.in_(chunk), Sighting.left_a_report())
            .group_by(Sighting.action_id)
        ):
            if action_id is None:
                continue
            if first is not None and first.tzinfo is None:
                first = first.replace(tzinfo=UTC)  # aggregate bypasses UTCDateTime
            figures[action_id] = (count, first)
    return figures


def _change_figures(session: Session, actions: list[Action]) -> dict[int, Changes]:
    ids = [a.id for a in actions]
    found: dict[int, Changes] = {}
    for start in range(0, len(ids), 500):
        for action_id, kind, n, queued, added in session.execute(
            select(
                ActionRevision.action_id,
                ActionRevision.kind,
                func.count(),
                func.sum(ActionRevision.updates_queued),
                func.sum(ActionRevision.recipients_added),
            )
            .where(ActionRevision.action_id.in_(ids[start : start + 500]))
            .group_by(ActionRevision.action_id, ActionRevision.kind)
        ):
            if RevisionKind(kind) is RevisionKind.UPDATE:
                change = Changes(updates=n, update_recipients=int(queued or 0))
            else:
                change = Changes(area_changes=n, recipients_added=int(added or 0))
            found[action_id] = found.get(action_id, Changes()) + change
    return found


def build_report(session: Session, scope: Scope) -> Report:
    selected = actions_in_scope(session, scope)
    actions = [a for a, _ in selected]
    counts = action_counts(session, [a.id for a in actions])
    sightings = _sighting_figures(session, actions)
    changes = _change_figures(session, actions)
    rooms = dict(session.execute(select(ControlRoom.id, ControlRoom.name)).all())

    rows: list[ActionFigures] = []
    per_channel: dict[tuple[str, str], Counts] = defaultdict(Counts)
    people = Counts()
    by_type_outcome: Counter = Counter()
    for action, municipality in selected:
        action_count = counts.get(action.id, {})
        started_at = action.started_at
        if started_at is None:  # actions_in_scope selects started actions only
            raise ValueError(f"action {action.id} in the report was never started")
        n_sightings, first = sightings.get(action.id, (0, None))
        first_s = (first - started_at).total_seconds() if first and first >= started_at else None
        outcome = action.outcome.value if action.outcome else ActionStatus(action.status).value
        rows.append(
            ActionFigures(
                id=action.id,
                incident_type=action.incident_type.value,
                outcome=outcome,
                control_room=rooms.get(action.control_room_id, ""),
                municipality=municipality,
                started_at=started_at,
                ended_at=action.ended_at,
                counts=action_count,
                sightings=n_sightings,
                first_sighting_s=first_s,
                changes=changes.get(action.id, Changes()),
            )
        )
        by_type_outcome[(action.incident_type.value, outcome)] += 1
        for key, value in action_count.items():
            if key[0] == ALL_CHANNELS:
                people = people + value
            else:
                per_channel[key] = per_channel[key] + value
    channels = [ChannelFigures(c, k, v) for (c, k), v in sorted(per_channel.items())]
    return Report(
        scope=scope,
        actions=rows,
        by_type_outcome=dict(sorted(by_type_outcome.items())),
        channels=channels,
        growth=participant_growth(session, scope),
        coverage=coverage(session, scope.municipality),
        people=people,
    )


# --- participants per municipality ---------------------------------------------------------


def _home_municipalities(session: Session) -> list[tuple[int, str, datetime, str]]:
    """(participant id, home municipality, created_at, status) for every participant."""
    rows = session.execute(
        select(
            Participant.id,
            Address.municipality,
            Address.kind,
            Address.id,
            Participant.created_at,
            Participant.status,
        )
        .join(Address, Address.participant_id == Participant.id)
        .order_by(Participant.id, Address.id)
    ).all()
    best: dict[int, tuple] = {}
    for pid, municipality, kind, address_id, created, status in rows:
        rank = (0 if AddressKind(kind) is AddressKind.HOME else 1, address_id)
        if pid not in best or rank < best[pid][0]:
            best[pid] = (rank, municipality or UNKNOWN_MUNICIPALITY, created, status)
    return [
        (pid, m, created, ParticipantStatus(status).value) for pid, (_, m, created, status) in best.items()
    ]


def _month(value: datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def months_overlapping(start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """(label, end of month) for every calendar month (UTC) that overlaps [start, end)."""
    months = []
    year, month = start.year, start.month
    while True:
        first = datetime(year, month, 1, tzinfo=UTC)
        if first >= end:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        months.append((f"{first.year:04d}-{first.month:02d}", datetime(year, month, 1, tzinfo=UTC)))
    return months


def participant_growth(session: Session, scope: Scope) -> list[GrowthRow]:
    """New registrations per municipality and month of the period, with the running total
    (everyone registered by the end of that month, or of the period if it ends earlier)."""
    by_muni: dict[str, list[datetime]] = defaultdict(list)
    for _pid, municipality, created, _status in _home_municipalities(session):
        if scope.municipality is None or municipality == scope.municipality:
            by_muni[municipality].append(created)
    months = months_overlapping(scope.start, scope.end)
    rows = []
    for municipality in sorted(by_muni):
        registered = by_muni[municipality]
        for label, month_end in months:
            until = min(month_end, scope.end)
            new = sum(1 for c in registered if _month(c) == label and scope.start <= c < until)
            total = sum(1 for c in registered if c < until)
            rows.append(GrowthRow(municipality, label, new, total))
    return rows


def coverage(session: Session, municipality: str | None = None) -> list[CoverageRow]:
    """Participants (not opted out) per home municipality against its population."""
    counts: Counter = Counter(
        m
        for _pid, m, _c, status in _home_municipalities(session)
        if status != ParticipantStatus.OPTED_OUT.value
    )
    populations = dict(session.execute(select(Municipality.name, Municipality.population)).all())
    names = sorted(set(counts) | set(populations))
    if municipality is not None:
        names = [n for n in names if n == municipality]
    return [CoverageRow(n, counts.get(n, 0), populations.get(n)) for n in names]


def municipality_names(session: Session) -> list[str]:
    names = set(session.scalars(select(Municipality.name)))
    names |= {m for m in session.scalars(select(Address.municipality).distinct()) if m}
    return sorted(names)
