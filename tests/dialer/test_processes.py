"""Real dialer processes (`burgernet dialer run`) on the simulated network.

- kill -9 mid-wave, then a restart: nothing lost (every row ends), nothing dialled twice (the
  network's own call log has each attempt once), and calls that were in flight when the
  process died are reconciled as outcome unknown, never redialled;
- two dialer processes on PostgreSQL (one per trunk) share one wave without overlap;
- three dialer processes on ONE trunk keep its channel cap and CPS and call everyone once;
- killing the leading `scheduler run` (-9) hands the cluster-wide jobs to the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import func, select
from stepped_wave import dialer_log, max_calls_in_window, peak_concurrency

from actions.end import end_action
from config.clock import SystemClock
from config.settings import Settings
from db.models import (
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    Lease,
    Outcome,
)
from deliveries.retry import OUTCOME_UNKNOWN
from dialer.leadership import SCHEDULER_LEASE

pytestmark = pytest.mark.e2e

S = DeliveryState
OPEN = [S.QUEUED, S.HELD, S.DIALING, S.RINGING, S.ANSWERED]
BURGERNET = str(Path(sys.executable).parent / "burgernet")


def dialer_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url,
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_PHONE_BACKEND": "simulator",
        "BURGERNET_DIALER__CHANNELS": "6",
        "BURGERNET_DIALER__CPS": "6",
        "BURGERNET_DIALER__POLL_INTERVAL_S": "0.1",
        "BURGERNET_DIALER__DIAL_TIMEOUT_S": "4",
        "BURGERNET_DIALER__RECONCILE_GRACE_S": "1",
        "BURGERNET_DIALER__MAX_CALL_S": "12",
        "BURGERNET_DIALER__BUSY_RETRY_DELAYS_S": "[1, 2]",
        "BURGERNET_DIALER__NO_ANSWER_RETRY_DELAYS_S": "[1]",
        "BURGERNET_DIALER__FAILED_RETRY_DELAYS_S": "[1]",
        "BURGERNET_DIALER__SIMULATOR__RING_MEAN_S": "0.5",
        "BURGERNET_DIALER__SIMULATOR__LISTEN_MEAN_S": "1.5",
    }


def start_dialer(env, tmp_path, name, *extra) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"calls-{name}.jsonl"
    process = subprocess.Popen(
        [BURGERNET, "dialer", "run", "--worker-id", name, "--call-log", str(log), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"{name}.err", "w"),  # noqa: SIM115 (lives as long as the process)
    )
    return process, log


def calls_in(log: Path) -> list[tuple[int, int]]:
    if not log.exists():
        return []
    return [
        (entry["delivery_id"], entry["attempt"])
        for entry in map(json.loads, log.read_text().splitlines())
        if entry
    ]


def wait_for(condition, timeout_s: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"dialer exited with {process.returncode} waiting for {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def open_rows(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state.in_(OPEN))) or 0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def seed_wave(db, room, count: int) -> None:
    with db.session() as s:  # urgent, so quiet hours never hold it whatever the real time
        action = make_action(s, room, incident=IncidentType.MISSING_CHILD, urgent=True, priority=100)
        make_deliveries(s, action, count)
        s.commit()


def test_kill_9_mid_wave_then_restart_loses_nothing_and_dials_nothing_twice(db, room, database_url, tmp_path):
    seed_wave(db, room, 24)
    env = dialer_env(database_url, tmp_path)
    first, first_log = start_dialer(env, tmp_path, "first")
    try:
        wait_for(lambda: len(calls_in(first_log)) >= 8, 60, "eight calls", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    with db.session() as s:
        at_kill = dict(s.execute(select(Delivery.id, Delivery.state)).all())
        attempts_at_kill = dict(s.execute(select(Delivery.id, Delivery.attempts)).all())
    in_flight = {d for d, state in at_kill.items() if state in (S.DIALING, S.RINGING, S.ANSWERED)}
    queued = {d for d, state in at_kill.items() if state == S.QUEUED}
    assert in_flight and queued, "the kill must come mid-wave"

    second, second_log = start_dialer(env, tmp_path, "second")
    try:
        wait_for(lambda: open_rows(db) == 0, 120, "the wave to finish", second)
    finally:
        stop(second)

    placed = calls_in(first_log) + calls_in(second_log)
    assert len(placed) == len(set(placed)), "an attempt was dialled twice"
    with db.session() as s:
        rows = {d.id: d for d in s.scalars(select(Delivery))}
        claims = Counter(
            (e.delivery_id, e.detail.get("worker"))
            for e in s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "dialer.claimed"))
        )
    assert all(row.state not in OPEN for row in rows.values())  # nothing lost
    for delivery_id, row in rows.items():
        attempts = sorted(a for d, a in placed if d == delivery_id)
        if row.hangup_cause == OUTCOME_UNKNOWN:  # a crash may fall between claim and dial
            assert attempts in (list(range(1, row.attempts + 1)), list(range(1, row.attempts)))
        else:
            assert attempts == list(range(1, row.attempts + 1))
    for delivery_id in in_flight:  # reconciled, never blindly redialled
        assert rows[delivery_id].hangup_cause == OUTCOME_UNKNOWN
        assert rows[delivery_id].attempts == attempts_at_kill[delivery_id]
    assert all(claims[(d, "second")] >= 1 for d in queued)  # the restart carried the wave on


def test_two_dialers_on_postgresql_share_a_wave_without_overlap(db, room, database_url, tmp_path):
    if not db.is_postgresql:
        pytest.skip("several dialer processes need PostgreSQL (SKIP LOCKED)")
    seed_wave(db, room, 40)
    env = dialer_env(database_url, tmp_path)
    a, a_log = start_dialer(env, tmp_path, "pbx-a", "--trunk", "pbx-a")
    b, b_log = start_dialer(env, tmp_path, "pbx-b", "--trunk", "pbx-b")
    try:
        wait_for(lambda: open_rows(db) == 0, 120, "the wave to finish", a)
    finally:
        stop(a)
        stop(b)
    on_a, on_b = calls_in(a_log), calls_in(b_log)
    assert on_a and on_b, "both dialers must have worked the wave"
    assert not set(on_a) & set(on_b), "an attempt was placed by both dialers"
    assert len(on_a) == len(set(on_a)) and len(on_b) == len(set(on_b))
    with db.session() as s:
        rows = s.scalars(select(Delivery)).all()
        claims = Counter(
            (e.delivery_id, e.detail.get("worker"))
            for e in s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "dialer.claimed"))
        )
    assert all(row.state not in OPEN for row in rows)
    assert sum(claims.values()) == len(on_a) + len(on_b)
    assert {worker for _d, worker in claims} == {"pbx-a", "pbx-b"}
    for row in rows:
        assert sorted(a for d, a in on_a + on_b if d == row.id) == list(range(1, row.attempts + 1))


def test_three_dialers_on_one_trunk_keep_its_limits_and_call_everyone_once(db, room, database_url, tmp_path):
    if not db.is_postgresql:
        pytest.skip("several dialer processes need PostgreSQL (the trunk row lock)")
    seed_wave(db, room, 30)
    env = dialer_env(database_url, tmp_path) | {
        "BURGERNET_DIALER__BUSY_RETRY_DELAYS_S": "[]",
        "BURGERNET_DIALER__NO_ANSWER_RETRY_DELAYS_S": "[]",
        "BURGERNET_DIALER__FAILED_RETRY_DELAYS_S": "[]",
        "BURGERNET_DIALER__MACHINE_RETRY_DELAYS_S": "[]",
    }
    dialers = [start_dialer(env, tmp_path, f"d{i}", "--trunk", "shared") for i in range(3)]
    try:
        wait_for(lambda: open_rows(db) == 0, 180, "the wave to finish", dialers[0][0])
    finally:
        for process, _log in dialers:
            stop(process)
    placed = [call for _process, log in dialers for call in calls_in(log)]
    with db.session() as s:
        rows = s.scalars(select(Delivery)).all()
    assert Counter(d for d, _a in placed) == {row.id: 1 for row in rows}  # everyone exactly once
    assert sum(1 for _process, log in dialers if calls_in(log)) >= 2, "the dialers shared the wave"
    log = dialer_log(db)
    assert peak_concurrency(log) <= 6  # BURGERNET_DIALER__CHANNELS, whatever the number of dialers
    assert max_calls_in_window(log, 1.0) <= 6  # BURGERNET_DIALER__CPS


def scheduler_holder(db) -> str | None:
    with db.session() as s:
        lease = s.get(Lease, SCHEDULER_LEASE)
        return lease.holder if lease is not None else None


def test_killing_the_leading_scheduler_hands_the_jobs_to_the_other(db, room, database_url, tmp_path):
    if not db.is_postgresql:
        pytest.skip("a cluster of processes needs PostgreSQL")
    env = dialer_env(database_url, tmp_path) | {
        "BURGERNET_DIALER__SCHEDULER_LEASE_S": "4",
        "BURGERNET_DIALER__SCHEDULER_RENEW_S": "0.5",
        "BURGERNET_DIALER__OUTCOME_DELAY_S": "0",
    }
    schedulers = {}
    for name in ("s1", "s2"):
        process = subprocess.Popen(
            [BURGERNET, "scheduler", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"{name}.err", "w"),  # noqa: SIM115 (lives as long as the process)
        )
        schedulers[process.pid] = process
    try:
        wait_for(lambda: scheduler_holder(db) is not None, 60, "a leader")
        leader_pid = int(scheduler_holder(db).split(":")[1])
        (other_pid,) = set(schedulers) - {leader_pid}
        schedulers[leader_pid].send_signal(signal.SIGKILL)
        schedulers[leader_pid].wait()
        with db.session() as s:
            held_until = s.get(Lease, SCHEDULER_LEASE).expires_at
        wait_for(lambda: f":{other_pid}:" in (scheduler_holder(db) or ""), 30, "the other to lead")
        with db.session() as s:
            taken_at = s.get(Lease, SCHEDULER_LEASE).acquired_at
        assert taken_at >= held_until  # once the dead leader's lease expired, never two leaders
        # The new leader runs the jobs: an ended action gets its outcome message.
        with db.session() as s:
            action = make_action(s, room, clock=SystemClock())
            s.add(
                Delivery(
                    action_id=action.id,
                    kind=DeliveryKind.ALERT,
                    channel=Channel.SMS,
                    target="+31612345678",
                    rank=0,
                    priority=action.priority,
                    state=S.DELIVERED,
                )
            )
            s.commit()
            end_action(
                s, action, None, Outcome.FOUND.value, "Gevonden.", SystemClock(), Settings(_env_file=None)
            )
        wait_for(lambda: outcome_rows(db) == 1, 30, "the outcome message", schedulers[other_pid])
    finally:
        for process in schedulers.values():
            stop(process)
    assert scheduler_holder(db) is None  # the survivor gave the lease up at its clean exit


def outcome_rows(db) -> int:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.kind == DeliveryKind.OUTCOME))
            or 0
        )
