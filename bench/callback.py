"""`burgernet bench callback`: the call-back line under load on the real testbed.

`--callers` sipp callers phone the call-back number within `--spread` seconds (an alert just
went out); `--centralists` sipp desk phones (members of the control room's queue) answer after
a random 2-10 s and talk 20-40 s. Most callers wait for a centralist; some press 1 in the queue
and record their sighting instead; some hang up while waiting. The FastAGI server runs the
call-back flow; app_queue holds the callers. Prints one JSON line last:

    callers, connected, recorded, missed   how the calls ended, from the rows (line_state)
    lost            callers whose number has no ended row (the goal: 0)
    sighting_rows   rows of calls to the line (the goal: == callers)
    max_wait_s, p95_wait_s   seconds callers waited in the queue (rows with a wait)
    max_wait_limit_s, over_limit   the queue's maximum wait, and rows that waited longer
                    without being offered the recording (goal: 0)
    wall_s          first call to the last row ended
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import click
from sqlalchemy import select

from bench.asterisk import _pool_for, _testbed_share, bench_settings
from callback_line import line_states
from config.clock import SystemClock
from db.database import Database
from db.models import ControlRoom, DeliveryState, Sighting
from db.runtime import current_settings
from dialer.backends.desk_phones import AsteriskDeskPhones
from ivr.asterisk_audio import AsteriskSounds
from ivr.callback_flow import QUEUE_MAX_WAIT_S, action_name
from ivr.flow import CallEnv, Speech
from ivr.prompt_texts import is_package_prompt, prompt_text
from prompts.ivr_prompts import ivr_prompt_text
from tests.support import testbed
from tests.support.asterisk_stack import AsteriskStack, prerender_prompts, seed_alert_wave

QUEUE = "burgernet-callback"
DESKS = ("PJSIP/burgernet-centralist", "PJSIP/burgernet-centralist2", "PJSIP/burgernet-centralist3")
DESK_PORTS = (testbed.CENTRALIST_PORT, testbed.CENTRALIST_PORT + 1, testbed.CENTRALIST_PORT + 2)


def _seconds(settings, *, key: str | None = None, text: str = "") -> float:
    if key and not is_package_prompt(key):
        key, text = None, prompt_text(key, settings)
    return AsteriskSounds(settings).rendered(Speech(text=text, key=key)).duration_s


def _until_queued_s(settings, db, action_id: int) -> float:
    with db.session() as s:
        name = action_name(
            CallEnv(session=s, clock=SystemClock(), settings=settings), {"action_id": action_id}
        )
    return (
        _seconds(settings, key="callback_welcome")
        + _seconds(settings, key="callback_one_action")
        + _seconds(settings, text=name)
        + _seconds(settings, text=ivr_prompt_text("callback_queue_position", settings, position=10))
        + _seconds(settings, key="callback_queue_hold")
    )


def _group(workdir: Path, name: str, numbers: list[str], rate: float, port: int, media: int, **params):
    """One sipp process placing len(numbers) calls at `rate` calls/s, caller ids from a file."""
    if not numbers:
        return None
    directory = workdir / name
    directory.mkdir()
    (directory / "callers.csv").write_text("SEQUENTIAL\n" + "".join(f"{n.lstrip('+')};\n" for n in numbers))
    template = "callback_caller.xml" if "dtmf_pcap" in params else "callback_waiting_caller.xml"
    scenario = testbed.render_scenario(template, directory, caller="[field0]", dialed="08000011", **params)
    args = ["-sf", str(scenario), testbed.ASTERISK_SIP, "-inf", str(directory / "callers.csv")]
    args += ["-m", str(len(numbers)), "-r", f"{rate:.3f}", "-rp", "1000", "-l", str(len(numbers))]
    args += ["-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(media), "-t", "u1"]
    args += ["-max_socket", "1000"]
    return testbed.Sipp(args, directory, name)


def _desk(workdir: Path, n: int) -> testbed.Sipp:
    directory = workdir / f"desk{n + 1}"
    directory.mkdir()
    scenario = testbed.render_scenario(
        "desk_centralist.xml",
        directory,
        answer_min_ms=2000,
        answer_max_ms=10_000,
        talk_min_ms=20_000,
        talk_max_ms=40_000,
    )
    args = ["-sf", str(scenario), "-i", "127.0.0.1", "-p", str(DESK_PORTS[n]), "-mi", "127.0.0.1"]
    args += ["-mp", str(6400 + 40 * n), "-t", "u1", "-max_socket", "200"]
    return testbed.Sipp(args, directory, f"desk{n + 1}")


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1], 1)


def run_callback_load(
    settings, db, *, callers: int, centralists: int, spread_s: float, workdir: Path
) -> dict:
    numbers = [f"+3161{i:07d}" for i in range(callers)]
    wave = seed_alert_wave(db, numbers, state=DeliveryState.COMPLETED)
    with db.transaction() as s:
        s.get(ControlRoom, wave.room_id).callback_queue = QUEUE
    prerender_prompts(settings, [])
    queued_s = _until_queued_s(settings, db, wave.action_id)
    record_s = _seconds(settings, key="callback_record")

    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    # Every 7th caller records instead, every 7th (offset 3) gives up while waiting.
    recorders = [n for i, n in enumerate(numbers) if i % 7 == 1]
    quitters = [n for i, n in enumerate(numbers) if i % 7 == 4]
    waiters = [n for n in numbers if n not in recorders and n not in quitters]
    rate = callers / spread_s
    tail_s = QUEUE_MAX_WAIT_S + 300
    groups = [
        # They speak when a caller who timed out would be recording (to the centralist otherwise).
        _group(
            workdir,
            "waiters",
            waiters,
            rate * len(waiters) / callers,
            5200,
            7000,
            speak_after_ms=ms(queued_s + QUEUE_MAX_WAIT_S + record_s + 2),
            stay_ms=ms(tail_s),
        ),
        _group(
            workdir,
            "recorders",
            recorders,
            rate * len(recorders) / callers,
            5201,
            7100,
            dtmf_pcap=str(testbed.SIPP_SHARE / "dtmf_2833_1.pcap"),
            digit_at_ms=ms(queued_s + 8),
            speak_after_ms=ms(record_s + 1.5),
            stay_ms=60_000,
        ),
        _group(
            workdir,
            "quitters",
            quitters,
            rate * len(quitters) / callers,
            5202,
            7200,
            speak_after_ms=ms(queued_s + 5),
            stay_ms=10_000,
        ),
    ]
    desks = AsteriskDeskPhones(settings)
    for n, desk in enumerate(DESKS):
        desks.set_presence(desk, QUEUE, n < centralists, "bench")
    phones = [_desk(workdir, n).start() for n in range(centralists)]
    started = time.monotonic()
    try:
        with AsteriskStack(settings, db) as stack:
            asterisk = settings.asterisk
            testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
            running = [g.start() for g in groups if g is not None]
            try:
                for group in running:
                    group.wait(timeout_s=spread_s + tail_s + 120)
            finally:
                for group in running:
                    group.stop()
            deadline = time.monotonic() + 60
            while stack.server.active_calls and time.monotonic() < deadline:
                time.sleep(0.5)
            outcomes = dict(stack.server.outcomes)
    finally:
        for phone in phones:
            phone.stop()
        for desk in DESKS:
            desks.set_presence(desk, QUEUE, True, "bench")
    wall_s = time.monotonic() - started

    with db.session() as s:
        rows = s.scalars(select(Sighting)).all()
    ended = {(r.caller_number or "").lstrip("+") for r in rows if r.line_state in line_states.ENDED}
    waits = [r.wait_s for r in rows if r.wait_s is not None]
    by_state = {state: sum(1 for r in rows if r.line_state == state) for state in line_states.ENDED}
    return {
        "callers": callers,
        "centralists": centralists,
        "connected": by_state[line_states.CONNECTED],
        "recorded": by_state[line_states.RECORDED],
        "missed": by_state[line_states.MISSED],
        "lost": sum(1 for n in numbers if n.lstrip("+") not in ended),
        "max_wait_s": round(max(waits), 1) if waits else None,
        "p95_wait_s": _percentile(waits, 0.95),
        "max_wait_limit_s": QUEUE_MAX_WAIT_S,
        "over_limit": sum(1 for w in waits if w > QUEUE_MAX_WAIT_S + 5),
        "sighting_rows": len(rows),
        "not_ended_rows": sum(1 for r in rows if r.line_state not in line_states.ENDED),
        "chose_to_record": len(recorders),
        "gave_up_waiting": len(quitters),
        "ivr_outcomes": outcomes,
        "wall_s": round(wall_s, 1),
    }


@click.command("callback")
@click.option("--callers", default=60, show_default=True, type=click.IntRange(1, 500))
@click.option("--centralists", default=3, show_default=True, type=click.IntRange(1, len(DESKS)))
@click.option(
    "--spread", "spread_s", default=30.0, show_default=True, help="Seconds over which callers call."
)
@click.option("--database-url", default="", help="Database for the rows (default: a fresh SQLite file).")
def bench_callback(callers: int, centralists: int, spread_s: float, database_url: str) -> None:
    """The call-back line under load: callers queue for centralists on the real testbed."""
    logging.basicConfig(level=logging.WARNING)
    settings = current_settings()
    started_testbed = False
    if not testbed.testbed_running():
        seconds = testbed.start_testbed()
        started_testbed = True
        click.echo(f"asterisk testbed started in {seconds:.1f} s", err=True)
    workdir = Path(tempfile.mkdtemp(prefix="burgernet-bench-callback-"))
    share = Path(_testbed_share())
    bench = bench_settings(
        settings, channels=callers + 10, cps=20, connections=1, share=share, instance=workdir / "instance"
    )
    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    db = Database(url, **_pool_for(url, callers + 10))
    try:
        db.upgrade()
        result = run_callback_load(
            bench, db, callers=callers, centralists=centralists, spread_s=spread_s, workdir=workdir
        )
    finally:
        db.dispose()
        if started_testbed:
            testbed.stop_testbed()
    click.echo(f"logs and database in {workdir}", err=True)
    click.echo(json.dumps(result))
