"""`burgernet bench concurrent`: two actions on one trunk, the second started while the first runs.

A missing child (about 3,000 contact points around Delft) is started, and a few seconds later a
vehicle (about 3,000 in a circle 6.5 km away: other people); both through the service layer
(`launch_wave`), dialled by the real worker on the simulated network in stepped simulated time
(as `bench dialer`), so the figures do not depend on the machine's speed. Retries are on.

Figures (one JSON line last), all in simulated seconds:
- per action: recipients, first_call_s (its start until its first call was claimed),
  min_share_per_minute (the smallest share of the trunk's calls it got in any whole minute
  while both actions had first calls waiting, from the second's start), reach_all_s (its start
  until its last call ended);
- bound_s: the lower bound the trunk's channels and CPS allow for the same calls, computed
  from the simulated calls alone: the largest of attempts / cps, the sum of call durations /
  channels, the longest chain of one delivery's attempts and retry delays
  (`bench.dialer.lower_bound`, also for the second action alone from its start), and the
  order bound of `bench.dialer.independent_bound` for the deliveries in the interleaved order
  the sharing dialled them first (a delivery dialled late cannot end before its own chain of
  retries has run after the calls before it went through the trunk's limits);
  channel_cps_bound_s is the first three alone;
- trunk_efficiency = bound_s / wall_s (the first start until the last call ended);
- ideal_dialer_s / efficiency_vs_ideal_dialer: the same calls, in the order the sharing first
  dialled them, placed by an ideal dialer (`ideal_wave_s`: a call the moment a line and the
  CPS allow, due retries first, no polling); with retries the bound above is not reachable
  (retries hold lines the bound gives to first calls), this is what a real dialer can reach.
With --no-retries every contact point is called once and the bound is the channels and CPS.
Goals: the second action's first_call_s <= 5, each min_share_per_minute >= min_share,
trunk_efficiency >= 0.95.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import tempfile
import time
from collections import deque
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import func, select

from actions.wave import launch_wave
from bench.dialer import (
    CENTRE,
    RADIUS_M,
    Attempt,
    attempts_of,
    independent_bound,
    lower_bound,
    open_work,
    seed_population,
)
from config.clock import FakeClock
from config.settings import Settings, get_settings
from db.database import Database
from db.models import (
    Action,
    ActionStatus,
    ControlRoom,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    IncidentType,
    Trunk,
)
from dialer.simulator import SimulatedNetwork
from dialer.worker import DialerWorker

S = DeliveryState
SECOND_CENTRE = (CENTRE[0] - 0.0400, CENTRE[1] - 0.0700)  # about 6.5 km away: other people
ENDS = [S.COMPLETED.value, S.BUSY.value, S.NO_ANSWER.value, S.FAILED.value, S.MACHINE.value]


def _settings(
    base: Settings, database_url: str, channels: int, cps: float, seed: int, retries: bool
) -> Settings:
    no_retries = {
        "busy_retry_delays_s": [],
        "no_answer_retry_delays_s": [],
        "failed_retry_delays_s": [],
        "machine_retry_delays_s": [],
    }
    return base.model_copy(
        update={
            "quiet_hours_start": None,
            "quiet_hours_end": None,
            "database_url": database_url,
            "dialer": base.dialer.model_copy(
                update={
                    "channels": channels,
                    "cps": cps,
                    **({} if retries else no_retries),
                    "simulator": base.dialer.simulator.model_copy(
                        update={"seed": seed, "channels": channels}
                    ),
                }
            ),
        }
    )


def _start(
    db: Database, room_id: int, incident: IncidentType, description: dict, centre, clock, settings
) -> int:
    with db.session() as session:
        action = Action(
            control_room_id=room_id,
            incident_type=incident,
            description=description,
            lat=centre[0],
            lon=centre[1],
            radius_m=RADIUS_M + 100,
            status=ActionStatus.DRAFT,
            channels=["voice"],
        )
        session.add(action)
        session.flush()
        launch_wave(session, action, None, clock, settings)
        return action.id


def minute_shares(
    claims: list[tuple[float, int]], action_ids: list[int], start_s: float, end_s: float
) -> dict[int, float | None]:
    """Each action's smallest share of the calls claimed in any whole minute of [start, end)."""
    worst: dict[int, float | None] = dict.fromkeys(action_ids)
    minutes = int((end_s - start_s) // 60)
    for m in range(minutes):
        lo, hi = start_s + 60 * m, start_s + 60 * (m + 1)
        in_minute = [owner for at, owner in claims if lo <= at < hi]
        if not in_minute:
            continue
        for action_id in action_ids:
            share = in_minute.count(action_id) / len(in_minute)
            current = worst[action_id]
            worst[action_id] = share if current is None else min(current, share)
    return worst


def ideal_wave_s(
    attempts: list[Attempt], order: list[int], release: dict[int, float], channels: int, cps: float
) -> float:
    """The same calls placed by an ideal dialer (pure): each call the moment a line is free and
    1 / cps has passed since the previous one, due retries first, then the deliveries in
    `order` once released (their action started); no polling, no database. Not a lower bound
    (another order could do better) but the work-conserving schedule any real dialer of this
    order approaches; the comparison shows what the claims themselves cost."""
    chains: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        chains.setdefault(attempt.delivery_id, []).append(attempt)
    free = [0.0] * channels
    fresh = deque(order)
    retries: list[tuple[float, int, int]] = []  # (due, delivery, index of the attempt)
    next_token = end = 0.0
    while fresh or retries:
        line = heapq.heappop(free)
        t = max(line, next_token)
        work_at = min(retries[0][0] if retries else math.inf, release[fresh[0]] if fresh else math.inf)
        t = max(t, work_at)
        if retries and retries[0][0] <= t:
            _due, delivery_id, index = heapq.heappop(retries)
        else:
            delivery_id, index = fresh.popleft(), 0
        attempt = chains[delivery_id][index]
        finish = t + attempt.duration_s
        end = max(end, finish)
        heapq.heappush(free, finish)
        if attempt.retry_delay_s is not None and index + 1 < len(chains[delivery_id]):
            heapq.heappush(retries, (finish + attempt.retry_delay_s, delivery_id, index + 1))
        next_token = t + 1.0 / cps
    return end


def run_concurrent(
    per_action: int,
    channels: int,
    cps: float,
    offset_s: float,
    seed: int,
    settings: Settings,
    retries: bool = True,
) -> dict:
    tmp = tempfile.TemporaryDirectory(prefix="bench-concurrent-")
    database_url = f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    settings = _settings(settings, database_url, channels, cps, seed, retries)
    db = Database(database_url)
    try:
        db.upgrade()
        seed_population(db, per_action, seed)
        seed_population(db, per_action, seed + 1, centre=SECOND_CENTRE, first_id=per_action + 1)
        clock = FakeClock()
        with db.transaction() as session:
            room = ControlRoom(name="Bench", region="Haaglanden", transfer_target="+31701234567")
            session.add(room)
            session.add(
                Trunk(name="bench", backend="simulator", max_channels=channels, cps=cps, prefix_caps={})
            )
            session.flush()
            room_id = room.id
        network = SimulatedNetwork(clock, settings.dialer.simulator, threaded=False)
        worker = DialerWorker(
            db, network, clock, settings, trunk_name="bench", worker_id="bench", simulate_ivr=False
        )
        worker.start()
        origin = clock.now()
        started = {
            "missing_child": _start(
                db,
                room_id,
                IncidentType.MISSING_CHILD,
                {"gender": "female", "age": "7", "clothing": "roze jas"},
                CENTRE,
                clock,
                settings,
            )
        }
        step = settings.dialer.poll_interval_s
        real0 = time.perf_counter()
        while True:
            if "vehicle" not in started and (clock.now() - origin).total_seconds() >= offset_s:
                started["vehicle"] = _start(
                    db,
                    room_id,
                    IncidentType.VEHICLE,
                    {"colour": "red", "plate": "gh123j", "features": "schade links"},
                    SECOND_CENTRE,
                    clock,
                    settings,
                )
            report = worker.tick()
            clock.advance(step)
            network.pump(clock.now())
            # Idle (nothing in flight, no event waiting to be applied): skip to the next retry.
            settled = network.active_calls == 0 and worker.pending_events == 0 and not report.busy
            if "vehicle" in started and settled:
                open_count, next_due = open_work(db)
                if not open_count:
                    break
                if next_due is not None and next_due > clock.now():
                    idle = (next_due - clock.now()).total_seconds()
                    clock.advance(math.floor(idle / step) * step)
        real_s = time.perf_counter() - real0
        return _figures(db, started, origin, channels, cps, settings) | {
            "channels": channels,
            "cps": cps,
            "offset_s": offset_s,
            "min_share": settings.dialer.min_share,
            "retries": retries,
            "real_s": round(real_s, 1),
        }
    finally:
        db.dispose()
        tmp.cleanup()


def _figures(db: Database, started: dict[str, int], origin: datetime, channels, cps, settings) -> dict:
    def at(moment: datetime) -> float:
        return (moment - origin).total_seconds()

    with db.session() as session:
        actions = {a.id: a for a in session.scalars(select(Action).where(Action.id.in_(started.values())))}
        rows = session.execute(select(Delivery.id, Delivery.action_id, Delivery.target)).all()
        owner = {row.id: row.action_id for row in rows}
        claims = session.execute(
            select(DeliveryEvent.delivery_id, DeliveryEvent.at)
            .where(DeliveryEvent.event == "dialer.claimed")
            .order_by(DeliveryEvent.at, DeliveryEvent.id)
        ).all()
        ends = session.execute(
            select(Delivery.action_id, func.max(DeliveryEvent.at))
            .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
            .where(DeliveryEvent.to_state.in_(ENDS) | (DeliveryEvent.event == "call.machine_message_left"))
            .group_by(Delivery.action_id)
        ).all()
    last_end = {action_id: at(moment) for action_id, moment in ends}
    claim_times = [(at(moment), owner[delivery_id]) for delivery_id, moment in claims]
    first_claim: dict[int, float] = {}
    last_first_attempt: dict[int, float] = {}
    first_seen: dict[int, float] = {}
    for (delivery_id, _moment), (t, action_id) in zip(claims, claim_times, strict=True):
        first_claim.setdefault(action_id, t)
        if delivery_id not in first_seen:
            first_seen[delivery_id] = t
            last_first_attempt[action_id] = t
    start_of = {action_id: at(actions[action_id].started_at) for action_id in started.values()}
    ids = list(started.values())
    both_from = max(start_of.values())
    both_until = min(last_first_attempt[action_id] for action_id in ids)
    shares = minute_shares(claim_times, ids, both_from, both_until)
    numbers = {row.id: row.target for row in rows}
    attempts = attempts_of(sorted(numbers), numbers, settings)
    plain = lower_bound(attempts, channels, cps)["bound_s"]
    second = max(ids, key=lambda action_id: start_of[action_id])
    own = [a for a in attempts if owner[a.delivery_id] == second]
    plain = max(plain, start_of[second] + lower_bound(own, channels, cps)["bound_s"])
    dial_order = sorted(first_seen, key=lambda delivery_id: (first_seen[delivery_id], delivery_id))
    burst = max(1.0, cps * settings.dialer.cps_burst_s)  # as dialer.pacing.TokenBucket
    ordered = independent_bound(attempts, dial_order, channels, cps, burst)["independent_bound_s"]
    bound = max(plain, ordered)
    chains: dict[int, float] = {}
    for a in attempts:
        chains[a.delivery_id] = chains.get(a.delivery_id, 0.0) + a.duration_s + (a.retry_delay_s or 0.0)
    ideal = ideal_wave_s(
        attempts, dial_order, {d: start_of[owner[d]] for d in dial_order}, channels, cps
    ) - min(start_of.values())
    # The best any dialer could do that starts each delivery when this one did (diagnostic).
    own_claims = max(first_seen[d] + chain for d, chain in chains.items()) - min(start_of.values())
    wall = max(last_end.values()) - min(start_of.values())
    per_action = []
    for kind, action_id in started.items():
        share = shares[action_id]
        per_action.append(
            {
                "type": kind,
                "recipients": sum(1 for o in owner.values() if o == action_id),
                "first_call_s": round(first_claim[action_id] - start_of[action_id], 2),
                "min_share_per_minute": None if share is None else round(share, 3),
                "reach_all_s": round(last_end[action_id] - start_of[action_id], 1),
            }
        )
    return {
        "actions": per_action,
        "trunk_efficiency": round(bound / wall, 4),
        "bound_s": round(bound, 1),
        "channel_cps_bound_s": round(plain, 1),
        "order_bound_s_own_claims": round(own_claims, 1),
        "ideal_dialer_s": round(ideal, 1),
        "efficiency_vs_ideal_dialer": round(ideal / wall, 4),
        "wall_s": round(wall, 1),
        "both_working_minutes": int((both_until - both_from) // 60),
    }


@click.command("concurrent")
@click.option("--per-action", type=click.IntRange(10, 200_000), default=3000, show_default=True)
@click.option("--channels", type=click.IntRange(1, 10_000), default=120, show_default=True)
@click.option("--cps", type=click.FloatRange(0.1, 1000), default=10.0, show_default=True)
@click.option("--offset-s", type=click.FloatRange(0, 3600), default=10.0, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--retries/--no-retries", default=True, help="Retry busy, unanswered, failed.")
def bench_concurrent(per_action, channels, cps, offset_s, seed, retries) -> None:
    """Two actions a few seconds apart on one simulated trunk; prints one JSON line last."""
    logging.getLogger("dialer").setLevel(logging.WARNING)
    result = run_concurrent(per_action, channels, cps, offset_s, seed, get_settings(), retries)
    click.echo(json.dumps(result))
