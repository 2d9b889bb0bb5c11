"""Several PBXs share one wave (issue 12): two testbed Asterisks (instance 1 and 2, each with its
own trunk and its own sipp phones), a `burgernet dialer run` process per PBX and one
`burgernet ivr serve` that both reach, on one PostgreSQL database.

Every participant's phone rings once, counted where it rings (the INVITEs in each phone farm's
SIP message log), and each row says which dialer claimed it. One dialer is SIGKILLed mid-wave:
the calls it had claimed are reconciled by the survivor (never redialled), and the survivor
works the rest of the wave.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bench.asterisk import bench_settings, invites_per_number
from config.settings import Settings
from db.database import Database
from db.models import Base, Delivery, DeliveryEvent, DeliveryState
from deliveries.retry import OUTCOME_UNKNOWN
from tests.support import testbed
from tests.support.asterisk_stack import (
    DEFAULT_VOICE_TEXT,
    PlatformProcess,
    platform_env,
    prerender_prompts,
    seed_alert_wave,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asterisk,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

S = DeliveryState
SHARE = Path("/var/lib/burgernet")
FINAL = {S.COMPLETED, S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE}
PBX_1, PBX_2 = testbed.TestbedInstance(1), testbed.TestbedInstance(2)


@pytest.fixture(scope="module")
def second_pbx(asterisk_testbed):
    """Instance 2 of the testbed beside the default one; stopped again if started here."""
    started_here = False
    if not PBX_2.running():
        try:
            PBX_2.start()
        except testbed.TestbedError as exc:
            pytest.fail(f"second testbed instance did not start: {exc}", pytrace=False)
        started_here = True
    yield PBX_2
    if started_here:
        PBX_2.stop()


@pytest.fixture
def pg_url(postgres_url) -> str:
    """The session's PostgreSQL database, emptied for this test (several dialers need PostgreSQL)."""
    db = Database(postgres_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return postgres_url


def idle(pbx: testbed.TestbedInstance, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "0 active channels" in pbx.cli("core show channels"):
            return
        time.sleep(0.5)
    pbx.cli("channel request hangup all")
    time.sleep(1)


def rows(db: Database, action_id: int) -> dict[str, Delivery]:
    with db.session() as s:
        found = s.scalars(select(Delivery).where(Delivery.action_id == action_id)).all()
        s.expunge_all()
        return {d.target: d for d in found}


def events_by_delivery(db: Database) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Each delivery's events in order, and the dialers that claimed it (one per attempt)."""
    events: dict[int, list[str]] = {}
    claimers: dict[int, list[str]] = {}
    with db.session() as s:
        for delivery_id, event, detail in s.execute(
            select(DeliveryEvent.delivery_id, DeliveryEvent.event, DeliveryEvent.detail).order_by(
                DeliveryEvent.id
            )
        ):
            events.setdefault(delivery_id, []).append(event)
            if event == "dialer.claimed":
                claimers.setdefault(delivery_id, []).append((detail or {}).get("worker"))
    return events, claimers


def test_two_pbxs_share_one_wave_and_a_killed_dialers_calls_are_reconciled_not_redialled(
    second_pbx, pg_url, tmp_path
):
    idle(PBX_1)
    idle(PBX_2)
    base = bench_settings(
        Settings(_env_file=None, database_url=pg_url, secret_key="test-secret"),
        channels=8,
        cps=4,
        connections=1,
        share=SHARE,
        instance=tmp_path / "instance",
    )
    # Short calls (the phones hang up 6 s after answering), a short dial timeout, and a grace
    # that lets the survivor reconcile the dead dialer's calls within the test.
    dialer = base.dialer.model_copy(
        update={
            "dial_timeout_s": 10,
            "reconcile_grace_s": 5,
            "max_call_s": 20,
            "poll_interval_s": 0.1,
            "busy_retry_delays_s": [],
            "no_answer_retry_delays_s": [],
            "failed_retry_delays_s": [],
        }
    )
    asterisk = base.asterisk.model_copy(
        update={"ami_username": testbed.PRODUCTION_AMI_USER, "ami_secret": testbed.PRODUCTION_AMI_SECRET}
    )
    cfg = base.model_copy(update={"dialer": dialer, "asterisk": asterisk, "database_url": pg_url})
    db = Database(pg_url)
    numbers = [f"+316900{i:05d}" for i in range(60)]  # 3169 0...: answer and listen
    wave = seed_alert_wave(db, numbers, voice_text=DEFAULT_VOICE_TEXT)
    prerender_prompts(cfg, [DEFAULT_VOICE_TEXT])

    fastagi_port = cfg.asterisk.fastagi_port
    env = platform_env(cfg)
    ivr = PlatformProcess(["burgernet", "ivr", "serve"], env, tmp_path, "ivr")
    dialers = {
        pbx.number: PlatformProcess(
            ["burgernet", "dialer", "run", "--trunk", f"pbx-{pbx.number}"]
            + ["--worker-id", f"dialer-pbx-{pbx.number}"],
            platform_env(cfg, asterisk__ami_port=pbx.ami_port, asterisk__fastagi_port=fastagi_port),
            tmp_path,
            f"dialer-{pbx.number}",
        )
        for pbx in (PBX_1, PBX_2)
    }
    phones = {pbx.number: pbx.phones(tmp_path, hangup_after_ms=6_000) for pbx in (PBX_1, PBX_2)}
    victim, survivor = dialers[1], dialers[2]
    try:
        for farm in phones.values():
            farm.start()
        ivr.start(ready="FastAGI listening")
        for process in dialers.values():
            process.start(ready="runs on trunk")

        # Kill dialer 1 once it has a share of the wave in hand and the wave is far from done.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            claims = Counter(d.claimed_by for d in rows(db, wave.action_id).values())
            if claims["dialer-pbx-1"] >= 8:
                break
            time.sleep(0.1)
        victim.kill()
        at_kill = rows(db, wave.action_id)
        orphaned = {n for n, d in at_kill.items() if d.claimed_by == "dialer-pbx-1" and d.state not in FINAL}
        queued_at_kill = {n for n, d in at_kill.items() if d.state == S.QUEUED}
        assert queued_at_kill, "the wave ended before the kill: nothing left for the survivor to show"

        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if all(d.state in FINAL for d in rows(db, wave.action_id).values()):
                break
            time.sleep(1)
        assert survivor.alive(), survivor.tail()
    finally:
        for process in dialers.values():
            process.stop()
        ivr.stop()
        for farm in phones.values():
            farm.stop()

    final = rows(db, wave.action_id)
    events, claimers = events_by_delivery(db)
    db.dispose()
    diagnostics = "\n".join([victim.tail(), survivor.tail(), ivr.tail(1500)])
    assert all(d.state in FINAL for d in final.values()), (
        Counter(d.state for d in final.values()),
        diagnostics,
    )

    # Where the phones ring: no number twice, on either PBX or across them.
    at_pbx = {
        pbx.number: invites_per_number(
            (tmp_path / f"phones-{pbx.number}.messages.log").read_text(errors="replace")
        )
        for pbx in (PBX_1, PBX_2)
    }
    rang = Counter(at_pbx[1]) + Counter(at_pbx[2])
    assert {n: c for n, c in rang.items() if c > 1} == {}
    assert set(rang) <= {n.lstrip("+") for n in numbers}
    assert at_pbx[1] and at_pbx[2], "both PBXs carried part of the wave"

    # Each row was claimed once, by one of the two dialers.
    claimed = {n: claimers.get(d.id, []) for n, d in final.items()}
    assert {n: who for n, who in claimed.items() if len(who) != 1} == {}
    by_pbx_1 = {n for n, who in claimed.items() if who == ["dialer-pbx-1"]}
    by_pbx_2 = {n for n, who in claimed.items() if who == ["dialer-pbx-2"]}
    assert by_pbx_1 | by_pbx_2 == set(numbers)
    # Each dialer's calls rang on its own PBX's phones, once; the survivor's every call rang.
    assert {"+" + n for n in at_pbx[1]} <= by_pbx_1
    assert {"+" + n for n in at_pbx[2]} == by_pbx_2
    # The survivor took the rest of the wave: everything still queued when dialer 1 died.
    assert queued_at_kill <= by_pbx_2
    # Nothing was dialled twice: one attempt per row.
    assert {n: d.attempts for n, d in final.items() if d.attempts != 1} == {}

    # The dead dialer's calls in flight were reconciled by the survivor ("outcome unknown"),
    # never handed back to the queue.
    assert orphaned, "dialer 1 had no call in flight when it died: the kill showed nothing"
    for number in orphaned:
        row = final[number]
        assert "dialer.reconciled" in events[row.id], (number, events[row.id])
        assert row.hangup_cause == OUTCOME_UNKNOWN, (number, row.hangup_cause)
    # A call of dialer 1 that never reached its PBX is the only kind that did not ring at all.
    silent = set(numbers) - {"+" + n for n in rang}
    assert silent <= orphaned, silent
