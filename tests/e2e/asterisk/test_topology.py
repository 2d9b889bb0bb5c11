"""The production topology end to end (issue 12): gunicorn serving `web.wsgi:app`, two
`burgernet dialer run` processes on ONE trunk, `burgernet ivr serve`, `burgernet scheduler run`,
PostgreSQL, the real Asterisk testbed and sipp phones, each its own process started as a
control room would start it.

An action started through the JSON API (docs/api.md, with a token from `burgernet api-token
issue`) reaches every participant's phone exactly once, and the trunk's calls per second,
measured where the calls arrive (the phones' INVITE times in sipp's message log, not the
dialer's own clock), never exceed the trunk's setting, however the two dialers share it.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, text

from bench.asterisk import bench_settings, max_per_window, phone_calls
from config.settings import PROJECT_ROOT, Settings
from db.database import Database
from db.models import Base, Delivery, DeliveryEvent, DeliveryState
from tests.support import testbed
from tests.support.asterisk_stack import BURGERNET, PlatformProcess, free_port, platform_env, seed_registry

pytestmark = [pytest.mark.e2e, pytest.mark.asterisk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

S = DeliveryState
SHARE = Path("/var/lib/burgernet")
FINAL = {S.COMPLETED, S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE}
PBX = testbed.DEFAULT_INSTANCE
TRUNK_CPS = 5
TRUNK_CHANNELS = 12
PARTICIPANTS = 40


@pytest.fixture
def pg_url(postgres_url) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    db = Database(postgres_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return postgres_url


def idle(timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "0 active channels" in PBX.cli("core show channels"):
            return
        time.sleep(0.5)
    PBX.cli("channel request hangup all")
    time.sleep(1)


def wait_http(url: str, process: PlatformProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.alive(), process.tail()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s:.0f} s\n{process.tail()}")


def test_action_through_the_api_rings_every_phone_once_within_the_trunks_cps(
    asterisk_testbed, pg_url, tmp_path
):
    idle()
    base = bench_settings(
        Settings(_env_file=None, database_url=pg_url),
        channels=TRUNK_CHANNELS,
        cps=TRUNK_CPS,
        connections=1,
        share=SHARE,
        instance=tmp_path / "instance",
    )
    cfg = base.model_copy(
        update={
            "database_url": pg_url,
            "asterisk": base.asterisk.model_copy(
                update={
                    "ami_username": testbed.PRODUCTION_AMI_USER,
                    "ami_secret": testbed.PRODUCTION_AMI_SECRET,
                }
            ),
            "dialer": base.dialer.model_copy(
                update={
                    "dial_timeout_s": 15,
                    "poll_interval_s": 0.1,
                    # Counted at the phones, Asterisk's jitter under load can bring the calls of
                    # two windows together: the margin a provider's edge needs (see the setting).
                    "cps_window_s": 1.1,
                    "busy_retry_delays_s": [],
                    "no_answer_retry_delays_s": [],
                    "failed_retry_delays_s": [],
                }
            ),
        }
    )
    numbers = [f"+316900{i:05d}" for i in range(PARTICIPANTS)]  # 3169 0...: answer and listen
    db = Database(pg_url)
    registry = seed_registry(db, numbers)
    env = platform_env(cfg)
    token = subprocess.run(
        [str(BURGERNET), "api-token", "issue", registry.username],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    web_port = free_port()
    web_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
    }
    gunicorn = str(BURGERNET.parent / "gunicorn")
    processes = {
        "web": PlatformProcess(
            [gunicorn, "-c", str(PROJECT_ROOT / "web" / "gunicorn_conf.py"), "web.wsgi:app"],
            web_env,
            tmp_path,
            "web",
        ),
        "ivr": PlatformProcess(["burgernet", "ivr", "serve"], env, tmp_path, "ivr"),
        "scheduler": PlatformProcess(["burgernet", "scheduler", "run"], env, tmp_path, "scheduler"),
        "dialer-a": PlatformProcess(
            ["burgernet", "dialer", "run", "--trunk", "trunk-1", "--worker-id", "dialer-a"],
            env,
            tmp_path,
            "dialer-a",
        ),
        "dialer-b": PlatformProcess(
            ["burgernet", "dialer", "run", "--trunk", "trunk-1", "--worker-id", "dialer-b"],
            env,
            tmp_path,
            "dialer-b",
        ),
    }
    api = f"http://127.0.0.1:{web_port}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    phones = PBX.phones(tmp_path, hangup_after_ms=6_000)
    try:
        phones.start()
        processes["ivr"].start(ready="FastAGI listening")
        processes["scheduler"].start()
        for name in ("dialer-a", "dialer-b"):
            processes[name].start(ready="runs on trunk")
        processes["web"].start()
        wait_http(f"http://127.0.0.1:{web_port}/healthz", processes["web"])

        request = {
            "incident_type": "suspect",
            "description": {"gender": "male", "age": "30", "clothing": "rode jas"},
            "location": {"lat": 52.0116, "lon": 4.3571, "label": "Markt, Delft"},
            "radius_m": 1000,
            "channels": ["voice"],
            "norms": {"urgent_recent": True, "clear_description": True},
        }
        created = requests.post(f"{api}/actions", json=request, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        action_id = created.json()["action"]["id"]
        assert created.json()["preview"]["total"] == PARTICIPANTS
        started = requests.post(
            f"{api}/actions/{action_id}/start",
            json={"expected_total": PARTICIPANTS},
            headers=headers,
            timeout=30,
        )
        assert started.status_code == 200, started.text

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with db.session() as s:
                states = s.scalars(select(Delivery.state).where(Delivery.action_id == action_id)).all()
            if len(states) == PARTICIPANTS and all(S(state) in FINAL for state in states):
                break
            time.sleep(1)
        for name, process in processes.items():
            assert process.alive(), (name, process.tail())
        shown = requests.get(f"{api}/actions/{action_id}", headers=headers, timeout=30)
    finally:
        for process in processes.values():
            process.stop()
        phones.stop()

    with db.session() as s:
        rows = s.scalars(select(Delivery).where(Delivery.action_id == action_id)).all()
        claims = Counter(
            (event.detail or {}).get("worker")
            for event in s.scalars(
                select(DeliveryEvent)
                .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
                .where(Delivery.action_id == action_id, DeliveryEvent.event == "dialer.claimed")
            )
        )
        states = Counter(S(d.state) for d in rows)
        attempts = Counter(d.attempts for d in rows)
    db.dispose()
    diagnostics = "\n".join(p.tail(1500) for p in processes.values())
    assert states == {S.COMPLETED: PARTICIPANTS}, (states, diagnostics)
    assert attempts == {1: PARTICIPANTS}

    # At the phones: every participant's phone rang exactly once.
    calls = phone_calls((tmp_path / f"phones-{PBX.number}.messages.log").read_text(errors="replace"))
    rang = Counter(call.number for call in calls.values() if call.invite_at is not None)
    assert rang == Counter({n.lstrip("+"): 1 for n in numbers})
    # The trunk's rate as the PBX side sees it: never more calls in a second than its setting,
    # although two dialers shared the work.
    invites = [call.invite_at for call in calls.values() if call.invite_at is not None]
    assert max_per_window(invites, 1.0) <= TRUNK_CPS, sorted(invites)
    assert set(claims) == {"dialer-a", "dialer-b"}, claims
    # The API tells the centralist the same.
    assert shown.status_code == 200
    assert shown.json()["action"]["figures"]["reached"] == PARTICIPANTS, shown.json()["action"]
