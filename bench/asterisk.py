"""`burgernet bench asterisk`: a wave through the real testbed Asterisk to sipp phones.

The whole telephony side runs for real: the dialer worker paces and claims rows in a fresh
database, the AMI backend originates them, Asterisk calls sipp phones that answer and listen
to the whole message, the FastAGI server plays the alert flow, and every event lands on its
delivery row. Prints one JSON line last.

    calls, answered, lost       rows; lost = not answered, or no final state by the end
    max_concurrent              most calls up at once (originated, not yet hung up)
    achieved_cps, configured_cps  originates per second while channels were free (the first
                                min(calls, channels) calls); overall_originate_rate over all
    wall_s                      first originate to the last call's final state
    avg_call_s_claim_to_final   claim to final state, mean, from the delivery log (the old
                                definition: it grows when originating or event handling is
                                slow, so a slow dialer loosens its own bound)
    bound_s_claim_to_final, efficiency_claim_to_final
                                `ideal_wave_seconds(calls, cps, channels, avg_call_s_claim_to_final)`
                                and bound / wall_s
    avg_call_s_network          answer to hang-up as the phones (sipp) saw it, mean: the 200 OK
                                a phone sent for the INVITE to the BYE of that call, from sipp's
                                message log; avg_ring_s is INVITE to 200 OK there
    bound_s_network, efficiency_network
                                `ideal_wave_seconds(calls, cps, channels, avg_call_s_network)`
                                and bound / wall_s: nothing in it comes from the dialer's clock
    load_average_1m             before and after the wave (the machine may be shared)
    cpu_s, machine_cpu_busy     CPU seconds during the wave of Asterisk, the sipp phones and this
                                process (dialer, AMI, FastAGI), and the whole machine's busy share
    originate_wait_ms_p50/_p95  how long handing one call to Asterisk took (AMI round trip)
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select

from db.database import Database
from db.models import Delivery, DeliveryEvent, DeliveryState
from db.runtime import current_settings
from deliveries.call_backend import CallEventType, CallRequest
from dialer.backends.asterisk import AsteriskBackend
from tests.support import testbed
from tests.support.asterisk_stack import (
    DEFAULT_VOICE_TEXT,
    AsteriskStack,
    delivery_states,
    free_port,
    prerender_prompts,
    seed_alert_wave,
)

S = DeliveryState


def ideal_wave_seconds(calls: int, cps: float, channels: int, call_s: float) -> float:
    """When an ideal dialer finishes `calls` calls of `call_s` seconds each on a trunk of
    `channels` channels and `cps` calls a second: call i starts at i/cps, or when the call
    `channels` places before it hangs up, whichever is later."""
    if calls <= 0:
        return 0.0
    starts: list[float] = []
    for i in range(calls):
        start = i / cps
        if i >= channels:
            start = max(start, starts[i - channels] + call_s)
        starts.append(start)
    return starts[-1] + call_s


def pace(times: list[float], count: int) -> float:
    """Originates per second over the first `count` of the sorted times."""
    head = sorted(times)[:count]
    if len(head) < 2 or head[-1] <= head[0]:
        return 0.0
    return (len(head) - 1) / (head[-1] - head[0])


# --- the calls as the phones saw them: sipp's message log (-trace_msg) -----------------------

_SEPARATOR = re.compile(r"^-{20,} (?P<stamp>.+)$")
_EPOCH = re.compile(r"\b(\d{9,11}\.\d{1,6})\b")
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}(?:\.\d+)?)")
_DIRECTION = re.compile(r"message (sent|received)", re.IGNORECASE)
_REQUEST_USER = re.compile(r"^INVITE sips?:\+?([^@;> ]+)@")


@dataclass
class PhoneCall:
    """One call at a phone, in seconds of the phone's clock (None: not seen)."""

    invite_at: float | None = None
    number: str | None = None  # the user part of the INVITE's request URI: the number dialled
    answer_at: float | None = None  # the phone's 200 OK to the INVITE
    hangup_at: float | None = None  # the first BYE of the call, either way

    @property
    def network_s(self) -> float | None:
        if self.answer_at is None or self.hangup_at is None:
            return None
        return self.hangup_at - self.answer_at

    @property
    def ring_s(self) -> float | None:
        if self.invite_at is None or self.answer_at is None:
            return None
        return self.answer_at - self.invite_at


def _stamp_seconds(stamp: str) -> float:
    epoch = _EPOCH.search(stamp)
    if epoch:
        return float(epoch.group(1))
    found = _DATE_TIME.search(stamp)
    if not found:
        raise ValueError(f"sipp message log: no time in {stamp!r}")
    return datetime.fromisoformat(f"{found.group(1)} {found.group(2)}").timestamp()


def _header(lines: list[str], name: str) -> str | None:
    prefix = name.lower() + ":"
    for line in lines:
        if line.lower().startswith(prefix):
            return line.split(":", 1)[1].strip()
    return None


def phone_calls(log: str) -> dict[str, PhoneCall]:
    """Per Call-ID, when the phone got the INVITE, answered it and saw the call end (pure).

    `log` is sipp's message log (-trace_msg): each message follows a line of dashes and a
    time stamp, then "UDP message sent (N bytes):" or "... received [N] bytes :", then the
    SIP message."""
    calls: dict[str, PhoneCall] = {}
    blocks: list[tuple[float, list[str]]] = []
    for line in log.splitlines():
        separator = _SEPARATOR.match(line)
        if separator:
            blocks.append((_stamp_seconds(separator.group("stamp")), []))
        elif blocks:
            blocks[-1][1].append(line.strip())
    for at, lines in blocks:
        direction = next((m.group(1).lower() for m in map(_DIRECTION.search, lines[:2]) if m), None)
        message = [line for line in lines[1:] if line]
        call_id = _header(message, "Call-ID") or _header(message, "i")
        if not message or direction is None or call_id is None:
            continue
        start, cseq = message[0], (_header(message, "CSeq") or "").upper()
        call = calls.setdefault(call_id, PhoneCall())
        if start.startswith("INVITE ") and direction == "received" and call.invite_at is None:
            call.invite_at = at
            dialled = _REQUEST_USER.match(start)
            call.number = dialled.group(1) if dialled else None
        elif (
            start.startswith("SIP/2.0 200")
            and direction == "sent"
            and cseq.endswith("INVITE")
            and call.answer_at is None
        ):
            call.answer_at = at
        elif start.startswith("BYE ") and call.hangup_at is None:
            call.hangup_at = at
    return calls


def invites_per_number(*logs: str) -> dict[str, int]:
    """How many calls (Call-IDs) each number received across the phones' message logs."""
    counts: dict[str, int] = {}
    for log in logs:
        for call in phone_calls(log).values():
            if call.invite_at is not None and call.number is not None:
                counts[call.number] = counts.get(call.number, 0) + 1
    return counts


def max_per_window(times: list[float], window_s: float = 1.0) -> int:
    """The most events inside any window [t, t + window_s) (sliding): a trunk's highest
    calls-per-second when window_s is 1."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def mean_seconds(values: list[float | None]) -> float:
    seen = [v for v in values if v is not None]
    return sum(seen) / len(seen) if seen else 0.0


FINAL = {S.COMPLETED, S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE, S.CANCELLED, S.OPTED_OUT}
ANSWERED = {S.ANSWERED, S.COMPLETED, S.MACHINE, S.OPTED_OUT}


def bench_settings(settings, *, channels: int, cps: float, connections: int, share: Path, instance: Path):
    """The app's settings, pointed at the testbed and a scratch instance folder."""
    asterisk = settings.asterisk.model_copy(
        update={
            "fastagi_host": "127.0.0.1",
            "fastagi_port": free_port(),
            "ami_connections": connections,
            # Every live call is a FastAGI session: a cap below the trunk's channels refuses
            # the calls above it (dialplan fallback, the call is cut and retried).
            "fastagi_max_sessions": max(settings.asterisk.fastagi_max_sessions, channels + 50),
            "dial_template": "Local/{number}@burgernet-out",
            "sounds_dir": str(share / "sounds"),
            "recordings_dir": str(share / "recordings"),
        }
    )
    dialer = settings.dialer.model_copy(
        update={"channels": channels, "cps": cps, "dial_timeout_s": 20, "poll_interval_s": 0.05}
    )
    bench = settings.model_copy(
        update={
            "asterisk": asterisk,
            "dialer": dialer,
            "phone_backend": "asterisk",
            "instance_path": instance,
            "quiet_hours_start": None,
            "quiet_hours_end": None,
        }
    )
    bench.ensure_instance_dirs()
    return bench


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 if it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_wave(
    settings, db: Database, *, calls: int, cps: float, channels: int, timeout_s: float, workdir: Path
) -> dict:
    numbers = [f"+316900{i:05d}" for i in range(calls)]  # 3169 0...: answer and listen
    wave = seed_alert_wave(db, numbers, voice_text=DEFAULT_VOICE_TEXT)
    prerender_prompts(settings, [DEFAULT_VOICE_TEXT])
    max_concurrent = 0
    load_before = os.getloadavg()[0]
    asterisk_pid = testbed.DEFAULT_INSTANCE.pid()
    with (
        testbed.phone_farm(workdir, hangup_after_ms=600_000, trace_messages=True) as phones,
        AsteriskStack(settings, db) as stack,
    ):
        assert phones.process is not None
        cpu_before = {
            "asterisk": process_cpu_s(asterisk_pid),
            "sipp": process_cpu_s(phones.process.pid),
            "platform": process_cpu_s(os.getpid()),
        }
        machine_before = machine_cpu()
        started = time.monotonic()
        deadline = started + timeout_s
        states: dict = {}
        next_poll = 0.0
        while time.monotonic() < deadline:
            max_concurrent = max(max_concurrent, stack.backend.in_flight())
            if time.monotonic() >= next_poll:
                states = delivery_states(db, wave.action_id)
                if all(state in FINAL for state in states.values()):
                    break
                next_poll = time.monotonic() + 0.5
            time.sleep(0.02)
        finished = time.monotonic()
        cpu_s = {
            "asterisk": process_cpu_s(asterisk_pid) - cpu_before["asterisk"],
            "sipp": process_cpu_s(phones.process.pid) - cpu_before["sipp"],
            "platform": process_cpu_s(os.getpid()) - cpu_before["platform"],
        }
        machine_after = machine_cpu()
        durations = list(stack.originates.times)
        waits = list(stack.originates.waits)
        reconnects = stack.backend.reconnects
    states = delivery_states(db, wave.action_id)
    answered = sum(1 for s in states.values() if s in ANSWERED)
    completed = sum(1 for s in states.values() if s == S.COMPLETED)
    lost = calls - completed
    originated = sorted(durations)
    first = originated[0] if originated else started
    wall_s = finished - first
    load_after = os.getloadavg()[0]
    avg_call_s = _mean_call_seconds(db, wave.action_id)
    bound_s = ideal_wave_seconds(calls, cps, channels, avg_call_s)
    at_phones = phone_calls((workdir / "phones.messages.log").read_text(errors="replace"))
    network_s = mean_seconds([c.network_s for c in at_phones.values()])
    bound_network_s = ideal_wave_seconds(calls, cps, channels, network_s)
    return {
        "calls": calls,
        "answered": answered,
        "lost": lost,
        "max_concurrent": max_concurrent,
        "channels": channels,
        "achieved_cps": round(pace(originated, min(calls, channels)), 2),
        "configured_cps": cps,
        "overall_originate_rate": round(pace(originated, len(originated)), 2),
        "wall_s": round(wall_s, 2),
        "avg_call_s_claim_to_final": round(avg_call_s, 2),
        "bound_s_claim_to_final": round(bound_s, 2),
        "efficiency_claim_to_final": round(bound_s / wall_s, 3) if wall_s > 0 else 0.0,
        "avg_call_s_network": round(network_s, 2),
        "avg_ring_s": round(mean_seconds([c.ring_s for c in at_phones.values()]), 3),
        "calls_seen_at_phones": sum(1 for c in at_phones.values() if c.network_s is not None),
        "bound_s_network": round(bound_network_s, 2),
        "efficiency_network": round(bound_network_s / wall_s, 3) if wall_s > 0 else 0.0,
        # Where the CPU went during the wave (seconds, all threads): Asterisk, the sipp phones,
        # this process (dialer, AMI and FastAGI threads); the machine's busy share of all cores.
        "cpu_s": {name: round(value, 1) for name, value in cpu_s.items()},
        "machine_cpu_busy": round(
            (machine_after[0] - machine_before[0]) / max(1e-9, machine_after[1] - machine_before[1]), 3
        ),
        "cores": os.cpu_count(),
        "originate_wait_ms_p50": round(percentile(waits, 0.5) * 1000, 1),
        "originate_wait_ms_p95": round(percentile(waits, 0.95) * 1000, 1),
        "load_average_1m": round(load_before, 2),
        "load_average_1m_after": round(load_after, 2),
        "states": {
            state.value: sum(1 for s in states.values() if s == state)
            for state in sorted(set(states.values()), key=lambda x: x.value)
        },
        "ami_connections": settings.asterisk.ami_connections,
        "ami_reconnects": reconnects,
        "database": db.engine.dialect.name,
    }


def _mean_call_seconds(db: Database, action_id: int) -> float:
    """Mean time from claiming a row to the call's final state, from the delivery log."""
    with db.session() as s:
        rows = s.execute(
            select(DeliveryEvent.delivery_id, DeliveryEvent.event, DeliveryEvent.at)
            .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
            .where(Delivery.action_id == action_id)
        ).all()
    claimed: dict[int, object] = {}
    ended: dict[int, object] = {}
    for delivery_id, event, at in rows:
        if event == "dialer.claimed":
            claimed.setdefault(delivery_id, at)
        elif event in ("call.completed", "call.busy", "call.no_answer", "call.failed"):
            ended[delivery_id] = at
    spans = [(ended[d] - claimed[d]).total_seconds() for d in ended if d in claimed]
    return sum(spans) / len(spans) if spans else 0.0


@click.command("asterisk")
@click.option("--calls", default=500, show_default=True, type=click.IntRange(1, 5000))
@click.option("--cps", default=50.0, show_default=True, type=click.FloatRange(0.1, 200))
@click.option(
    "--channels",
    default=300,
    show_default=True,
    type=click.IntRange(1, 2000),
    help="The trunk's concurrent-call limit.",
)
@click.option(
    "--connections",
    default=None,
    type=click.IntRange(1, 16),
    help="AMI originate connections (default: settings asterisk.ami_connections).",
)
@click.option(
    "--database-url", default="", help="Database for the wave's rows (default: a fresh SQLite file)."
)
@click.option("--timeout", "timeout_s", default=900.0, show_default=True)
def bench_asterisk(calls, cps, channels, connections, database_url, timeout_s) -> None:
    """A wave through the real testbed Asterisk (started if needed) to sipp phones."""
    logging.basicConfig(level=logging.WARNING)
    settings = current_settings()
    started_testbed = False
    if not testbed.testbed_running():
        seconds = testbed.start_testbed()
        started_testbed = True
        click.echo(f"asterisk testbed started in {seconds:.1f} s", err=True)
    workdir = Path(tempfile.mkdtemp(prefix="burgernet-bench-asterisk-"))
    share = Path(_testbed_share())
    bench = bench_settings(
        settings,
        channels=channels,
        cps=cps,
        connections=connections or settings.asterisk.ami_connections,
        share=share,
        instance=workdir / "instance",
    )
    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    db = Database(url, **_pool_for(url, channels))
    try:
        db.upgrade()
        result = run_wave(
            bench, db, calls=calls, cps=cps, channels=channels, timeout_s=timeout_s, workdir=workdir
        )
    finally:
        db.dispose()
        if started_testbed:
            testbed.stop_testbed()
    click.echo(f"logs and database in {workdir}", err=True)
    click.echo(json.dumps(result))


def _testbed_share() -> str:
    return os.environ.get("BURGERNET_TESTBED_SHARE", "/var/lib/burgernet")


def _pool_for(url: str, channels: int) -> dict:
    """Each call in the IVR holds a database session: size the pool for the trunk."""
    if url.startswith("sqlite"):
        return {"pool_size": min(channels, 200) + 10, "max_overflow": 50}
    return {"pool_size": 20, "max_overflow": 60}


def measure_originate_rate(settings, *, links: int, calls: int, workdir: Path, timeout_s: float = 60) -> dict:
    """Originates per second through `links` AMI connections, one sending thread each, to
    phones that answer busy (so the PBX is not the limit). Every call must end busy."""

    ended: list = []
    lock = threading.Lock()

    def sink(event) -> None:
        if event.type in (
            CallEventType.BUSY,
            CallEventType.FAILED,
            CallEventType.NO_ANSWER,
            CallEventType.COMPLETED,
        ):
            with lock:
                ended.append(event.type)

    asterisk = settings.asterisk.model_copy(update={"ami_connections": links})
    backend = AsteriskBackend(asterisk, caller_id=settings.caller_id)
    per_link = max(1, calls // links)
    errors: list[str] = []

    def send(link: int) -> None:
        for i in range(per_link):
            delivery_id = link * 1_000_000 + i + 1
            try:
                backend.originate(
                    CallRequest(delivery_id, f"+31693{link:02d}{i:05d}", settings.caller_id, timeout_s=5)
                )
            except Exception as exc:
                errors.append(str(exc))

    with testbed.phone_farm(workdir, label="busy-phones"):
        backend.start(sink)
        try:
            started = time.monotonic()
            threads = [threading.Thread(target=send, args=(n,)) for n in range(links)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent_s = time.monotonic() - started
            total = per_link * links
            deadline = time.monotonic() + timeout_s
            while len(ended) < total and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            backend.stop()
    return {
        "links": links,
        "originates": total,
        "send_s": round(sent_s, 3),
        "originates_per_s": round(total / sent_s, 1) if sent_s > 0 else 0.0,
        "per_link_per_s": round(total / sent_s / links, 1) if sent_s > 0 else 0.0,
        "ended": len(ended),
        "busy": sum(1 for t in ended if t == CallEventType.BUSY),
        "errors": len(errors),
    }


@click.command("asterisk-originate")
@click.option("--links", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--calls", default=400, show_default=True, type=click.IntRange(1, 10000))
def bench_asterisk_originate(links, calls) -> None:
    """How many Originates a second AMI connections take (to busy phones on the testbed)."""
    logging.basicConfig(level=logging.WARNING)
    started_testbed = False
    if not testbed.testbed_running():
        testbed.start_testbed()
        started_testbed = True
    try:
        workdir = Path(tempfile.mkdtemp(prefix="burgernet-bench-originate-"))
        result = measure_originate_rate(current_settings(), links=links, calls=calls, workdir=workdir)
    finally:
        if started_testbed:
            testbed.stop_testbed()
    click.echo(json.dumps(result))
