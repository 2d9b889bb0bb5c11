"""The dialer loop survives its database (issue 19.1), on real PostgreSQL.

- every connection of the worker is cut (`pg_terminate_backend`) again and again while a
  simulated wave runs: the wave finishes, every participant is called exactly once;
- a database that stays away: `burgernet dialer run` gives up after `dialer.max_outage_s` and
  exits non-zero (so systemd restarts it), instead of hanging.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import func, select, text

from config.clock import SystemClock
from config.settings import Settings, SimulatorSettings
from db.database import Database
from db.heartbeats import recent
from db.models import ControlRoom, Delivery, DeliveryState, IncidentType
from dialer.simulator import SimulatedNetwork
from dialer.worker import DialerWorker, PacingLoop

pytestmark = pytest.mark.e2e

S = DeliveryState
OPEN = [S.QUEUED, S.HELD, S.DIALING, S.RINGING, S.ANSWERED, S.LEAVING_MESSAGE]
BURGERNET = str(Path(sys.executable).parent / "burgernet")
CUT = text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name")


def seed(db: Database, count: int) -> None:
    with db.session() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567")
        s.add(room)
        s.flush()
        action = make_action(s, room, incident=IncidentType.MISSING_CHILD, urgent=True, priority=100)
        make_deliveries(s, action, count)
        s.commit()


def open_rows(db: Database) -> int | None:
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state.in_(OPEN)))
    except Exception:  # cut as well
        return None


def test_the_wave_finishes_while_every_connection_of_the_worker_is_cut_again_and_again(
    fresh_postgres, tmp_path, caplog
):
    name, url, admin = fresh_postgres
    settings = Settings(
        _env_file=None, database_url=url, instance_path=tmp_path / "instance", secret_key="test-secret"
    )
    config = settings.dialer
    config.channels, config.cps, config.poll_interval_s = 8, 10.0, 0.1
    config.dial_timeout_s, config.reconcile_grace_s, config.max_call_s = 10, 20, 30
    config.busy_retry_delays_s = config.no_answer_retry_delays_s = []
    config.failed_retry_delays_s = config.machine_retry_delays_s = []  # one call per participant
    config.retry_backoff_max_s = 0.5
    profile = SimulatorSettings(ring_mean_s=0.3, listen_mean_s=1.0, seed=11)
    db = Database(url)
    seed(db, 60)
    log = tmp_path / "calls.jsonl"
    clock = SystemClock()
    network = SimulatedNetwork(clock, profile, call_log=log)
    worker = DialerWorker(db, network, clock, settings, worker_id="cut-worker", simulate_ivr=False)
    cuts: list[int] = []
    stop_cutting = threading.Event()

    def cut_again_and_again():
        while not stop_cutting.wait(0.15):
            with admin.connect() as conn:
                cuts.append(conn.execute(CUT, {"name": name}).scalar() or 0)

    cutter = threading.Thread(target=cut_again_and_again, daemon=True)
    caplog.set_level(logging.INFO, logger="dialer.worker")
    loop = PacingLoop(worker).start()
    cutter.start()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and open_rows(db) != 0:
            time.sleep(0.5)
    finally:
        stop_cutting.set()
        cutter.join()
        loop.stop()
    failed_ticks = [r for r in caplog.records if r.getMessage().startswith("dialer.tick_failed")]
    assert sum(cuts) >= 20 and failed_ticks, "the cuts must have hit the worker"
    assert not loop.running and worker.gave_up is None

    placed = [(e["delivery_id"], e["attempt"]) for e in map(json.loads, log.read_text().splitlines())]
    with db.session() as s:
        rows = s.scalars(select(Delivery)).all()
    assert open_rows(db) == 0, "the wave finished"
    assert Counter(d for d, _attempt in placed) == {row.id: 1 for row in rows}  # everyone once
    assert all(row.attempts == 1 for row in rows)
    assert not [row.id for row in rows if row.hangup_cause == "OUTCOME_UNKNOWN"]
    (beat,) = [b for b in recent(db) if b.role == "dialer"]
    assert beat.status == "stopped"  # it beat through the cuts and said goodbye
    db.dispose()


def test_dialer_run_exits_non_zero_when_the_database_stays_away(fresh_postgres, tmp_path):
    name, url, admin = fresh_postgres
    env = os.environ | {
        "DATABASE_URL": url,
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_PHONE_BACKEND": "simulator",
        "BURGERNET_DIALER__POLL_INTERVAL_S": "0.1",
        "BURGERNET_DIALER__MAX_OUTAGE_S": "3",
        "BURGERNET_DIALER__RETRY_BACKOFF_MAX_S": "0.5",
        "BURGERNET_DIALER__HEARTBEAT_INTERVAL_S": "0.5",
    }
    err = tmp_path / "dialer.err"
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [BURGERNET, "dialer", "run", "--worker-id", "doomed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        db = Database(url)
        deadline = time.monotonic() + 60
        while not [b for b in _recent_or_none(db) if b.role == "dialer" and b.status == "ok"]:
            assert time.monotonic() < deadline and process.poll() is None, err.read_text()
            time.sleep(0.2)
        db.dispose()
        with admin.connect() as conn:  # the database goes away and stays away
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(CUT, {"name": name})
        gone = time.monotonic()
        status = process.wait(timeout=60)
        waited = time.monotonic() - gone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert status == 3, err.read_text()
    assert waited >= 3  # it tried for max_outage_s first
    assert "dialer gave up" in err.read_text()


def _recent_or_none(db):
    try:
        return recent(db)
    except Exception:
        return []
