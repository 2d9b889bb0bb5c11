"""`burgernet bench dialer`: a full wave on the simulated network, in stepped simulated time.

A synthetic population (one verified phone per participant, voice) is placed inside a circle
in a fresh SQLite database. The action is started through the service layer (selection, frozen
texts, planning) and the real worker runs the wave on the simulator with a `FakeClock`
advanced in steps of the poll interval, so the figures are in simulated time and do not depend
on the speed of the machine. Retries are on (the settings' delays unless overridden).

Figures (one JSON line last):
- wall_s: simulated time from the start until the last call of the wave ended;
- bound_s: the lower bound the channel and CPS limits allow for the same calls: the largest
  of (attempts / cps), (sum of call durations / channels) and the longest single chain of one
  delivery's attempts and retry delays; efficiency = bound_s / wall_s;
- order_bound_s_own_claims / pacing_efficiency_own_claims (the old figure): the best any
  dialer could do that starts each delivery's first call when this one did. It starts from
  this dialer's own claim times, so a dialer that claims late raises its own bound;
- independent_bound_s / pacing_efficiency_independent: a lower bound from the trunk limits, the
  simulated calls and the product's dial order alone (`independent_bound`): the k-th delivery
  in dial order (nearest first) cannot start before the CPS token bucket lets k+1 calls out,
  nor before the channels have carried the first calls of the k deliveries before it (less
  what may still be running), and cannot end before its own chain of attempts and retry
  delays has run from there. Nothing in it comes from this run's claim or event times;
- first_call_ms: real milliseconds from the start of `launch_wave` (selection and planning
  included) until the first call was handed to the network;
- batch_efficiency: a naive dialer, in this process, on the same calls (the network draws
  each attempt's fate from (seed, delivery, attempt)): it places `channels` calls at the CPS
  rate, waits for all of them to end, then places the next batch.

With `--dialers N` (PostgreSQL) the wave runs instead in real time with N separate `burgernet
dialer run` processes on ONE simulated trunk, in a fresh database created beside the one named
(dropped afterwards), retries off so that every participant is called once. Figures: the calls'
start times give achieved_cps (calls over the span from the first start to the last) and
max_cps_1s (the most starts in any window under one second), both from the claims' database
times (`last_attempt_at`: with retries off, one per participant; the times the trunk lock
serialises); max_cps_1s_originate is the same from the simulator's call logs (when each process
handed the call over, which a loaded machine delays by a varying amount after the claim);
max_channels is the peak of calls in flight (from the delivery events), double_calls the calls
beyond the first per participant, efficiency = achieved_cps / configured_cps. Goals:
max_cps_1s <= configured_cps, max_channels <= configured_channels, achieved_cps >= 0.95 *
configured_cps, double_calls == 0.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import create_engine, func, insert, select, text

from actions.wave import launch_wave
from config.clock import FakeClock, SystemClock
from config.settings import Settings, get_settings
from db.database import Database
from db.heartbeats import recent
from db.models import (
    Action,
    ActionStatus,
    Address,
    AddressKind,
    ControlRoom,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    GeocodeStatus,
    IncidentType,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
    Trunk,
)
from deliveries.call_backend import CallRequest
from deliveries.retry import retry_delay_s
from deliveries.states import IN_PROGRESS, REACHED
from dialer.simulator import SimulatedNetwork, script_call
from dialer.worker import DialerWorker

CENTRE = (52.0116, 4.3571)  # Delft
RADIUS_M = 3000
S = DeliveryState
_RESULT_OF_OUTCOME = {
    "busy": S.BUSY,
    "no_answer": S.NO_ANSWER,
    "failed": S.FAILED,
    "invalid": S.FAILED,
    "machine": S.MACHINE,
}


@dataclass
class Attempt:
    delivery_id: int
    attempt: int
    duration_s: float
    retry_delay_s: float | None  # delay before the next attempt, None if final


def open_work(db: Database) -> tuple[int, datetime | None]:
    """How many deliveries are still to be called or in flight, and when the next queued or
    held one is due: a time-compressed bench skips its idle polls up to that moment."""
    with db.session() as session:
        open_count = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.state.in_([S.QUEUED, S.HELD, *IN_PROGRESS]))
        )
        next_due = session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(Delivery.state.in_([S.QUEUED, S.HELD]))
        )
    return open_count or 0, next_due


def seed_population(
    db: Database, count: int, seed: int, *, centre: tuple[float, float] = CENTRE, first_id: int = 1
) -> None:
    """`count` participants at random points inside the circle, each with one verified phone."""
    rng = random.Random(seed)
    lat0, lon0 = centre
    participants, addresses, phones = [], [], []
    for i in range(first_id, first_id + count):
        distance = RADIUS_M * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        lat = lat0 + distance * math.cos(bearing) / 111_320
        lon = lon0 + distance * math.sin(bearing) / (111_320 * math.cos(math.radians(lat0)))
        mobile = rng.random() < 0.6
        participants.append(
            {
                "id": i,
                "name": f"Deelnemer {i}",
                "birth_year": 1950 + i % 50,
                "channels": ["voice"],
                "status": ParticipantStatus.ACTIVE,
                "source": "import",
                # Synthetic people, like the demo's: training mode's start-up check accepts a
                # database of "demo-" participants only (config/checks.py).
                "external_ref": f"demo-bench-{i}",
            }
        )
        addresses.append(
            {
                "participant_id": i,
                "kind": AddressKind.HOME,
                "postcode": f"{2600 + i % 100:04d}AB",
                "house_number": i,
                "lat": lat,
                "lon": lon,
                "geocode_status": GeocodeStatus.OK,
            }
        )
        phones.append(
            {
                "participant_id": i,
                "e164": (f"+316{i:08d}" if mobile else f"+3115{i:07d}"),
                "kind": PhoneKind.MOBILE if mobile else PhoneKind.LANDLINE,
                "verified": True,
            }
        )
    with db.transaction() as session:
        session.execute(insert(Participant), participants)
        session.execute(insert(Address), addresses)
        session.execute(insert(PhoneNumber), phones)


class TimedBackend:
    """Passes calls to the network and notes when the first one went out (real time)."""

    def __init__(self, network: SimulatedNetwork):
        self.network = network
        self.name = network.name
        self.first_call_at: float | None = None

    def start(self, sink) -> None:
        self.network.start(sink)

    def originate(self, request: CallRequest) -> str | None:
        provider_id = self.network.originate(request)
        if self.first_call_at is None:
            self.first_call_at = time.perf_counter()
        return provider_id

    def hangup(self, delivery_id, provider_id) -> None:
        self.network.hangup(delivery_id, provider_id)

    def unavailable_reason(self) -> str | None:
        return self.network.unavailable_reason()

    def stop(self) -> None:
        self.network.stop()


def lower_bound(attempts: list[Attempt], channels: int, cps: float) -> dict[str, float]:
    chains: dict[int, float] = {}
    for a in attempts:
        chains[a.delivery_id] = chains.get(a.delivery_id, 0.0) + a.duration_s + (a.retry_delay_s or 0)
    by_cps = len(attempts) / cps
    by_channels = sum(a.duration_s for a in attempts) / channels
    by_chain = max(chains.values(), default=0.0)
    return {
        "bound_s": max(by_cps, by_channels, by_chain),
        "bound_cps_s": by_cps,
        "bound_channels_s": by_channels,
        "bound_chain_s": by_chain,
    }


def independent_bound(
    attempts: list[Attempt], order: list[int], channels: int, cps: float, burst: float
) -> dict[str, float]:
    """A lower bound on the wave's end that no dialer obeying the trunk limits and the dial
    order can beat, computed from the simulated calls alone (pure).

    `order` lists the delivery ids in dial order (nearest first, `Delivery.rank`); `burst` is
    the token bucket's capacity in calls (it starts full: by time t at most burst + cps * t
    calls have gone out). For the k-th delivery in that order (k = 0, 1, ...), its first call
    starts no earlier than
      - by CPS: (k + 1 - burst) / cps, the k calls before it and its own through the bucket;
      - by channels: (sum of the first-call durations of the k deliveries before it, less the
        channels - 1 longest of them, which may still be running) / channels;
    and it ends no earlier than that start plus its own chain (every attempt's duration and
    the retry delays between them). The bound is the latest such end, and no less than the
    whole wave through the CPS limit or through the channels.
    """
    if channels < 1 or cps <= 0:
        raise ValueError("channels must be >= 1 and cps > 0")
    by_delivery: dict[int, list[Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(a)
    running: list[float] = []  # min-heap: the channels - 1 longest first calls so far
    running_sum = placed_sum = 0.0
    by_cps_order = by_channels_order = 0.0
    for k, delivery_id in enumerate(order):
        chain = by_delivery[delivery_id]
        length = sum(a.duration_s + (a.retry_delay_s or 0.0) for a in chain)
        start_cps = max(0.0, (k + 1 - burst) / cps)
        start_channels = (placed_sum - running_sum) / channels
        by_cps_order = max(by_cps_order, start_cps + length)
        by_channels_order = max(by_channels_order, start_channels + length)
        first = chain[0].duration_s
        placed_sum += first
        if channels > 1:
            if len(running) < channels - 1:
                heapq.heappush(running, first)
                running_sum += first
            elif first > running[0]:
                running_sum += first - heapq.heapreplace(running, first)
    total_cps = max(0.0, (len(attempts) - burst) / cps)
    total_channels = sum(a.duration_s for a in attempts) / channels
    return {
        "independent_bound_s": max(by_cps_order, by_channels_order, total_cps, total_channels),
        "independent_order_cps_s": by_cps_order,
        "independent_order_channels_s": by_channels_order,
    }


def attempts_of(delivery_ids: list[int], numbers: dict[int, str], settings: Settings) -> list[Attempt]:
    """Every attempt the retry policy makes for these deliveries on the simulated network."""
    out: list[Attempt] = []
    profile = settings.dialer.simulator
    for delivery_id in delivery_ids:
        seen: dict[S, int] = {}
        attempt = 1
        while True:
            script = script_call(
                delivery_id, attempt, numbers[delivery_id], settings.dialer.dial_timeout_s, profile
            )
            result = _RESULT_OF_OUTCOME.get(script.outcome)
            cause = script.events[-1].hangup_cause
            delay = None
            if result is not None:
                delay = retry_delay_s(result, seen.get(result, 0), cause, settings.dialer)
                seen[result] = seen.get(result, 0) + 1
            out.append(Attempt(delivery_id, attempt, script.duration_s, delay))
            if delay is None:
                break
            attempt += 1
    return out


def naive_batch_wave(attempts: list[Attempt], channels: int, cps: float) -> float:
    """Simulated time a batch dialer needs: `channels` calls, wait for all, next batch."""
    by_delivery: dict[int, list[Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(a)
    due = sorted((0.0, delivery_id, 0) for delivery_id in by_delivery)  # (due, delivery, index)
    t = 0.0
    while due:
        ready = [item for item in due if item[0] <= t]
        if not ready:
            t = min(item[0] for item in due)
            continue
        batch = sorted(ready)[:channels]
        chosen = set(batch)
        due = [item for item in due if item not in chosen]
        end = t
        for k, (_due, delivery_id, index) in enumerate(batch):
            start = t + k / cps
            attempt = by_delivery[delivery_id][index]
            finish = start + attempt.duration_s
            end = max(end, finish)
            if attempt.retry_delay_s is not None:
                due.append((finish + attempt.retry_delay_s, delivery_id, index + 1))
        t = end
    return t


def run_bench(
    participants: int,
    channels: int,
    cps: float,
    seed: int,
    database_url: str | None,
    settings: Settings,
    retries: bool = True,
) -> dict:
    tmp = None
    if not database_url:
        tmp = tempfile.TemporaryDirectory(prefix="bench-dialer-")
        database_url = f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    settings = settings.model_copy(
        update={
            "quiet_hours_start": None,
            "quiet_hours_end": None,
            "database_url": database_url,
            "dialer": settings.dialer.model_copy(
                update={
                    "channels": channels,
                    "cps": cps,
                    **(
                        {}
                        if retries
                        else {
                            "busy_retry_delays_s": [],
                            "no_answer_retry_delays_s": [],
                            "failed_retry_delays_s": [],
                            "machine_retry_delays_s": [],
                        }
                    ),
                    "simulator": settings.dialer.simulator.model_copy(
                        update={"seed": seed, "channels": channels}
                    ),
                }
            ),
        }
    )
    db = Database(database_url)
    try:
        db.upgrade()
        seed_population(db, participants, seed)
        clock = FakeClock()
        with db.transaction() as session:
            room = ControlRoom(name="Bench", region="Haaglanden", transfer_target="+31701234567")
            session.add(room)
            session.add(
                Trunk(name="bench", backend="simulator", max_channels=channels, cps=cps, prefix_caps={})
            )
        network = SimulatedNetwork(clock, settings.dialer.simulator, threaded=False)
        backend = TimedBackend(network)
        worker = DialerWorker(
            db, backend, clock, settings, trunk_name="bench", worker_id="bench", simulate_ivr=False
        )
        worker.start()
        start_mono = clock.monotonic()
        with db.session() as session:
            room = session.scalars(select(ControlRoom)).one()
            action = Action(
                control_room_id=room.id,
                incident_type=IncidentType.SUSPECT,
                description={"clothing": "rode jas", "height_cm": 180},
                lat=CENTRE[0],
                lon=CENTRE[1],
                radius_m=RADIUS_M + 100,
                status=ActionStatus.DRAFT,
                channels=["voice"],
            )
            session.add(action)
            session.flush()
            started = time.perf_counter()
            launch_wave(session, action, None, clock, settings)
            action_id = action.id
        worker.tick()
        if backend.first_call_at is None:
            raise click.ClickException("the wave placed no call on its first tick")
        first_call_ms = (backend.first_call_at - started) * 1000
        step = settings.dialer.poll_interval_s
        real0 = time.perf_counter()
        while True:
            clock.advance(step)
            network.pump(clock.now())
            report = worker.tick()
            if network.active_calls == 0 and not report.busy:
                open_count, next_due = open_work(db)
                if not open_count:
                    break
                if next_due is not None and next_due > clock.now():
                    # Nothing in flight: skip the idle polls up to the next due retry.
                    idle = (next_due - clock.now()).total_seconds()
                    clock.advance(math.floor(idle / step) * step)
        real_s = time.perf_counter() - real0
        with db.session() as session:
            last = session.scalar(
                select(func.max(DeliveryEvent.at)).where(
                    DeliveryEvent.to_state.in_(
                        [S.COMPLETED.value, S.BUSY.value, S.NO_ANSWER.value, S.FAILED.value]
                    )
                    | (DeliveryEvent.event == "call.machine_message_left")
                )
            )
            rows = session.execute(
                select(Delivery.id, Delivery.target, Delivery.state, Delivery.attempts, Delivery.rank).where(
                    Delivery.action_id == action_id
                )
            ).all()
            first_claims = dict(
                session.execute(
                    select(DeliveryEvent.delivery_id, func.min(DeliveryEvent.at))
                    .where(DeliveryEvent.event == "dialer.claimed")
                    .group_by(DeliveryEvent.delivery_id)
                ).all()
            )
        origin = clock_start(clock, start_mono)
        wall_s = (last - origin).total_seconds()
        numbers = {row.id: row.target for row in rows}
        attempts = attempts_of(sorted(numbers), numbers, settings)
        made = sum(row.attempts for row in rows)
        bound = lower_bound(attempts, channels, cps)
        naive_s = naive_batch_wave(attempts, channels, cps)
        chains: dict[int, float] = {}
        for a in attempts:
            chains[a.delivery_id] = chains.get(a.delivery_id, 0.0) + a.duration_s + (a.retry_delay_s or 0)
        # The best any dialer could do that starts each delivery when this one did (nearest
        # first): what is left between it and wall_s is lost by pacing and polling alone.
        order_bound = max((first_claims[d] - origin).total_seconds() + chain for d, chain in chains.items())
        dial_order = [row.id for row in sorted(rows, key=lambda row: (row.rank, row.id))]
        burst = max(1.0, cps * settings.dialer.cps_burst_s)  # as dialer.pacing.TokenBucket
        independent = independent_bound(attempts, dial_order, channels, cps, burst)
        return {
            "participants": participants,
            "deliveries": len(rows),
            "reached": sum(1 for row in rows if S(row.state) in REACHED),
            "attempts": made,
            "attempts_expected": len(attempts),
            "channels": channels,
            "cps": cps,
            "peak_channels": network.peak_channels,
            "congested": network.congested,
            "wall_s": round(wall_s, 1),
            **{k: round(v, 1) for k, v in bound.items()},
            "efficiency": round(bound["bound_s"] / wall_s, 4),
            "order_bound_s_own_claims": round(order_bound, 1),
            "pacing_efficiency_own_claims": round(order_bound / wall_s, 4),
            **{k: round(v, 1) for k, v in independent.items()},
            "pacing_efficiency_independent": round(independent["independent_bound_s"] / wall_s, 4),
            "retries": retries,
            "first_call_ms": round(first_call_ms, 1),
            "batch_wall_s": round(naive_s, 1),
            "batch_efficiency": round(bound["bound_s"] / naive_s, 4),
            "real_s": round(real_s, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        db.dispose()
        if tmp is not None:
            tmp.cleanup()


def clock_start(clock: FakeClock, start_mono: float):
    return clock.now() - timedelta(seconds=clock.monotonic() - start_mono)


# --- several dialer processes on one trunk (real time, PostgreSQL) -------------------------------

ENDS_FROM = {"dialing", "ringing", "answered", "leaving_message"}
ENDS_TO = {"completed", "busy", "no_answer", "failed", "machine", "cancelled", "opted_out"}


def max_in_window(starts: list[float], window_s: float = 1.0) -> int:
    """The most starts in any window shorter than `window_s` (sorted seconds)."""
    best = j = 0
    for i, at in enumerate(starts):
        while at - starts[j] >= window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def peak_in_flight(steps: list[tuple[float, int, int]]) -> int:
    current = peak = 0
    for _at, _order, step in sorted(steps):
        current += step
        peak = max(peak, current)
    return peak


def run_multi_dialer_bench(
    dialers: int, participants: int, channels: int, cps: float, seed: int, database_url: str
) -> dict:
    if not database_url.startswith("postgresql"):
        raise click.ClickException("--dialers needs a PostgreSQL --database-url (SQLite runs one dialer)")
    name = f"bench_dialer_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = database_url.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    work = tempfile.TemporaryDirectory(prefix="bench-dialers-")
    processes: list[subprocess.Popen] = []
    try:
        db.upgrade()
        seed_population(db, participants, seed)
        with db.transaction() as session:
            session.add(ControlRoom(name="Bench", region="Haaglanden", transfer_target="+31701234567"))
            session.add(
                Trunk(name="bench", backend="simulator", max_channels=channels, cps=cps, prefix_caps={})
            )
        env = os.environ | {
            "DATABASE_URL": url,
            "BURGERNET_INSTANCE_PATH": str(Path(work.name) / "instance"),
            "BURGERNET_PHONE_BACKEND": "simulator",
            "BURGERNET_DIALER__CHANNELS": str(channels),
            "BURGERNET_DIALER__CPS": str(cps),
            "BURGERNET_DIALER__POLL_INTERVAL_S": "0.05",
            "BURGERNET_DIALER__DIAL_TIMEOUT_S": "6",
            "BURGERNET_DIALER__BUSY_RETRY_DELAYS_S": "[]",
            "BURGERNET_DIALER__NO_ANSWER_RETRY_DELAYS_S": "[]",
            "BURGERNET_DIALER__FAILED_RETRY_DELAYS_S": "[]",
            "BURGERNET_DIALER__MACHINE_RETRY_DELAYS_S": "[]",
            "BURGERNET_DIALER__HEARTBEAT_INTERVAL_S": "1",
            "BURGERNET_DIALER__SIMULATOR__RING_MEAN_S": "1.0",
            "BURGERNET_DIALER__SIMULATOR__LISTEN_MEAN_S": "3.0",
            "BURGERNET_DIALER__SIMULATOR__CHANNELS": str(channels),
            "BURGERNET_DIALER__SIMULATOR__SEED": str(seed),
        }
        burgernet = str(Path(sys.executable).parent / "burgernet")
        logs = [Path(work.name) / f"calls-{i}.jsonl" for i in range(dialers)]
        for i, log in enumerate(logs):
            processes.append(
                subprocess.Popen(
                    [
                        burgernet,
                        "dialer",
                        "run",
                        "--trunk",
                        "bench",
                        "--worker-id",
                        f"bench-{i}",
                        "--call-log",
                        str(log),
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(Path(work.name) / f"dialer-{i}.err").open("w"),
                )
            )
        deadline = time.monotonic() + 120
        while sum(1 for b in recent(db) if b.role == "dialer" and b.status == "ok") < dialers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise click.ClickException("the dialer processes did not start")
            time.sleep(0.2)
        clock = SystemClock()
        settings = get_settings().model_copy(update={"database_url": url})
        with db.session() as session:
            room = session.scalars(select(ControlRoom)).one()
            action = Action(
                control_room_id=room.id,
                incident_type=IncidentType.MISSING_CHILD,
                urgent=True,  # never held by quiet hours, whatever the time of day
                description={"clothing": "rode jas", "height_cm": 130},
                lat=CENTRE[0],
                lon=CENTRE[1],
                radius_m=RADIUS_M + 100,
                status=ActionStatus.DRAFT,
                channels=["voice"],
            )
            session.add(action)
            session.flush()
            launch_wave(session, action, None, clock, settings)
        started = time.monotonic()
        deadline = started + participants / cps * 3 + 120
        while True:
            with db.session() as session:
                open_count = session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.state.in_([S.QUEUED, S.HELD, *IN_PROGRESS]))
                )
            if not open_count:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(f"the wave did not finish: {open_count} rows open")
            time.sleep(0.5)
        wave_s = time.monotonic() - started
        load = os.getloadavg()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        calls = [json.loads(line) for log in logs if log.exists() for line in log.read_text().splitlines()]
        starts = sorted(datetime_seconds(c["at"]) for c in calls)
        per_dialer = [sum(1 for _ in log.read_text().splitlines()) if log.exists() else 0 for log in logs]
        per_delivery: dict[int, int] = {}
        for c in calls:
            per_delivery[c["delivery_id"]] = per_delivery.get(c["delivery_id"], 0) + 1
        with db.session() as session:
            events = session.execute(
                select(
                    DeliveryEvent.at,
                    DeliveryEvent.id,
                    DeliveryEvent.event,
                    DeliveryEvent.from_state,
                    DeliveryEvent.to_state,
                )
            ).all()
            deliveries = session.scalar(select(func.count()).select_from(Delivery)) or 0
            claimed_at = sorted(
                at.timestamp()
                for at in session.scalars(select(Delivery.last_attempt_at)).all()
                if at is not None
            )
        steps: list[tuple[float, int, int]] = []
        claims: list[float] = []
        for at, event_id, event, from_state, to_state in events:
            if event == "dialer.claimed":
                steps.append((at.timestamp(), event_id, +1))
                claims.append(at.timestamp())
            elif from_state in ENDS_FROM and (to_state in ENDS_TO or event == "dialer.unclaimed"):
                steps.append((at.timestamp(), event_id, -1))
        span = claimed_at[-1] - claimed_at[0] if len(claimed_at) > 1 else 0.0
        achieved = (len(claimed_at) - 1) / span if span > 0 else 0.0
        return {
            "dialers": dialers,
            "participants": participants,
            "deliveries": deliveries,
            "calls": len(calls),
            "calls_per_dialer": per_dialer,
            "configured_cps": cps,
            "achieved_cps": round(achieved, 2),
            "max_cps_1s": max_in_window(claimed_at),
            "max_cps_1s_originate": max_in_window(starts),
            "max_cps_1s_claim_events": max_in_window(sorted(claims)),
            "configured_channels": channels,
            "max_channels": peak_in_flight(steps),
            "double_calls": sum(n - 1 for n in per_delivery.values() if n > 1),
            "not_called": deliveries - len(per_delivery),
            "efficiency": round(achieved / cps, 4),
            "wave_s": round(wave_s, 1),
            "load_average_1m": round(load[0], 2),
            "load_average_5m": round(load[1], 2),
            "cpus": os.cpu_count(),
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        db.dispose()
        work.cleanup()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def datetime_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@click.command("dialer")
@click.option(
    "--participants", type=click.IntRange(1, 200_000), default=None, help="10,000; 600 with --dialers."
)
@click.option("--channels", type=click.IntRange(1, 10_000), default=None, help="500; 300 with --dialers.")
@click.option("--cps", type=click.FloatRange(0.1, 10_000), default=None, help="100; 20 with --dialers.")
@click.option("--seed", type=int, default=7)
@click.option("--database-url", default=None, help="Default: a temporary SQLite file.")
@click.option("--retries/--no-retries", default=True, help="Retry busy, unanswered, failed.")
@click.option(
    "--dialers",
    type=click.IntRange(1, 32),
    default=None,
    help="Run the wave with this many `dialer run` processes on one trunk (PostgreSQL, real time).",
)
def bench_dialer(participants, channels, cps, seed, database_url, retries, dialers) -> None:
    """A full wave on the simulated network; prints one JSON line last."""
    logging.getLogger("dialer").setLevel(logging.WARNING)
    if dialers is not None:
        result = run_multi_dialer_bench(
            dialers, participants or 600, channels or 300, cps or 20.0, seed, database_url or ""
        )
    else:
        result = run_bench(
            participants or 10_000, channels or 500, cps or 100.0, seed, database_url, get_settings(), retries
        )
    click.echo(json.dumps(result))
