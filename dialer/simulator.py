"""The simulated phone network: a `CallBackend` adapter, and the training mode of a control room.

Each call attempt gets a script drawn from the network profile (settings.dialer.simulator):
answered by a person, busy, not answered, failed, or answered by a machine, with ring and
listen times from their distributions and the digits the participant presses. The draw is
seeded by (seed, delivery, attempt), so the same wave gives the same calls to any dialer
(the benchmark compares two dialers on identical calls). Numbers in `INVALID_PREFIXES` do not
exist (cause UNALLOCATED_NUMBER). The network's trunk has finite channels: a call beyond them
fails at once with cause CONGESTION.

Time comes from the clock it is given. `ScaledClock` runs simulated time faster than real time
(a 30-minute wave in seconds); a `FakeClock` with `pump()` steps a wave as fast as the computer
allows (the benchmark). In threaded mode a background thread delivers due events to the sink.

`outage(reason)` plays a PBX restart or a trunk outage: calls in progress are cut (an answered
call ends FAILED with cause CALL_CUT, one still ringing with NETWORK_OUT_OF_ORDER),
`unavailable_reason()` answers `reason` and `originate` raises `BackendUnavailable` until
`restore()`.

The simulator never touches the database. Its DTMF events carry `detail["ivr"] = "simulated"`
so the worker can walk the real alert flow with those digits (dialer.simulated_ivr), which
stores the menu choices on the row exactly as the IVR does on a real call.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time as _time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from config.clock import Clock
from config.logging import log_event
from config.settings import SimulatorSettings
from deliveries.call_backend import (
    CALL_CUT,
    BackendUnavailable,
    CallEvent,
    CallEventType,
    CallRequest,
    EventSink,
    OriginateError,
)
from deliveries.message_sender import MessageChannel, OutgoingMessage, SendError, SendResult

logger = logging.getLogger(__name__)

T = CallEventType
INVALID_PREFIXES = ("+3199", "+31800")  # not issued to subscribers (simulated)
BOUNCING_DOMAIN = "bounce.invalid"  # simulated mailboxes that do not exist
SETUP_S = 1.0
MENU_TIMEOUT_S = 6.0  # the alert menu's wait for a digit (shorter in very fast profiles)
# What an answering participant presses after hearing the message ("" = nothing).
DTMF_CHOICES = (("3", 0.55), ("", 0.25), ("1", 0.10), ("2", 0.07), ("9", 0.03))


class ScaledClock:
    """Simulated time that runs `scale` times faster than real time from `anchor`."""

    def __init__(self, scale: float, anchor: datetime | None = None):
        if scale <= 0:
            raise ValueError("time scale must be > 0")
        self.scale = scale
        self._anchor = anchor or datetime.now(UTC)
        self._real0 = _time.monotonic()

    def now(self) -> datetime:
        return self._anchor + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (_time.monotonic() - self._real0) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds / self.scale)


@dataclass(frozen=True)
class ScriptedEvent:
    offset_s: float
    type: CallEventType
    hangup_cause: str | None = None
    digits: str | None = None
    ivr: bool = True  # the simulated participant's side (False: the network cut the call)


@dataclass(frozen=True)
class CallScript:
    outcome: str  # answered | busy | no_answer | failed | machine | invalid
    events: tuple[ScriptedEvent, ...]

    @property
    def duration_s(self) -> float:
        return self.events[-1].offset_s


def script_call(
    delivery_id: int, attempt: int, number: str, timeout_s: int, profile: SimulatorSettings
) -> CallScript:
    """What the network will do with this call attempt (pure and reproducible)."""
    if number.startswith(INVALID_PREFIXES):
        return CallScript(
            "invalid", (ScriptedEvent(0.0, T.DIALING), ScriptedEvent(0.3, T.FAILED, "UNALLOCATED_NUMBER"))
        )
    rng = random.Random(f"{profile.seed}:{delivery_id}:{attempt}")
    weights = [
        profile.answer_rate,
        profile.busy_rate,
        profile.no_answer_rate,
        profile.failure_rate,
        profile.machine_rate,
    ]
    outcome = rng.choices(["answered", "busy", "no_answer", "failed", "machine"], weights)[0]
    dialing = ScriptedEvent(0.0, T.DIALING)
    if outcome == "failed":
        return CallScript(outcome, (dialing, ScriptedEvent(0.5, T.FAILED, "CONGESTION")))
    if outcome == "busy":
        return CallScript(outcome, (dialing, ScriptedEvent(SETUP_S, T.BUSY, "USER_BUSY")))
    ringing = ScriptedEvent(SETUP_S, T.RINGING)
    if outcome == "no_answer":
        return CallScript(
            outcome, (dialing, ringing, ScriptedEvent(SETUP_S + timeout_s, T.NO_ANSWER, "NO_ANSWER"))
        )
    ring = min(rng.expovariate(1.0 / profile.ring_mean_s) + 1.0, timeout_s - SETUP_S - 1.0)
    answered_at = SETUP_S + max(ring, 0.5)
    if outcome == "machine":
        message = profile.listen_mean_s + 3.0  # greeting and beep, then the message
        return CallScript(
            outcome,
            (
                dialing,
                ringing,
                ScriptedEvent(answered_at, T.MACHINE),
                ScriptedEvent(answered_at + message, T.COMPLETED, "NORMAL_CLEARING"),
            ),
        )
    listen = profile.listen_mean_s * rng.uniform(0.85, 1.15)
    events = [dialing, ringing, ScriptedEvent(answered_at, T.ANSWERED)]
    at = answered_at + listen
    if rng.random() < 0.08:  # hangs up before the end of the message
        at = answered_at + rng.uniform(2.0, listen)
        events.append(ScriptedEvent(at, T.COMPLETED, "NORMAL_CLEARING"))
        return CallScript(outcome, tuple(events))
    digit = rng.choices([d for d, _ in DTMF_CHOICES], [w for _, w in DTMF_CHOICES])[0]
    if digit == "1":  # hear it again, then confirm
        events.append(ScriptedEvent(at + 1.0, T.DTMF, digits="1"))
        at += 1.0 + listen
        digit = "3"
    if digit:
        events.append(ScriptedEvent(at + 1.5, T.DTMF, digits=digit))
        at += 1.5
        if digit == "9":  # confirms the opt-out
            events.append(ScriptedEvent(at + 2.0, T.DTMF, digits="1"))
            at += 2.0
        at += 4.0  # the closing prompt, or the transfer being set up
    else:
        at += 3 * min(MENU_TIMEOUT_S, profile.listen_mean_s)  # three menu timeouts, goodbye
    events.append(ScriptedEvent(at, T.COMPLETED, "NORMAL_CLEARING"))
    return CallScript(outcome, tuple(events))


@dataclass
class _Call:
    delivery_id: int
    attempt: int
    provider_id: str
    answered: bool = False
    ended: bool = False


class SimulatedNetwork:
    """The simulator backend (`CallBackend`)."""

    name = "simulator"

    def __init__(
        self, clock: Clock, profile: SimulatorSettings, *, threaded: bool = True, call_log: Path | None = None
    ):
        self.clock = clock
        self.profile = profile
        self.threaded = threaded
        self.call_log = call_log
        self._sink: EventSink | None = None
        self._heap: list[tuple[datetime, int, str, ScriptedEvent, bool]] = []
        self._seq = itertools.count()
        self._calls: dict[str, _Call] = {}  # calls holding a channel
        self._placed: set[str] = set()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_file: TextIO | None = None
        self.originated = 0
        self.recent_requests: deque[CallRequest] = deque(maxlen=1000)
        self.peak_channels = 0
        self.congested = 0
        self._outage: str | None = None
        self.refused_unavailable = 0  # originates refused during an outage
        self.cut_calls = 0

    # --- CallBackend ------------------------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        if self.call_log is not None:
            self.call_log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.call_log.open("a", buffering=1)
        if self.threaded and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="simulated-network", daemon=True)
            self._thread.start()

    def unavailable_reason(self) -> str | None:
        return self._outage

    def outage(self, reason: str = "centrale niet bereikbaar") -> int:
        """The network goes down (a PBX restart): every call in progress is cut now, and no
        call is taken until `restore()`. Returns how many calls were cut."""
        now = self.clock.now()
        with self._lock:
            self._outage = reason
            cut = 0
            for call in self._calls.values():
                if call.ended:
                    continue
                call.ended = True
                kind_cause = (T.FAILED, CALL_CUT) if call.answered else (T.FAILED, "NETWORK_OUT_OF_ORDER")
                self._push(
                    now, call.provider_id, ScriptedEvent(0.0, kind_cause[0], kind_cause[1], ivr=False), True
                )
                cut += 1
            self.cut_calls += cut
        log_event(logger, "simulator.outage", logging.WARNING, reason=reason, cut_calls=cut)
        return cut

    def restore(self) -> None:
        """The network is back: calls are taken again."""
        with self._lock:
            self._outage = None
        log_event(logger, "simulator.restored")

    def originate(self, request: CallRequest) -> str | None:
        if self._sink is None:
            raise OriginateError("simulated network not started")
        if self._outage is not None:
            with self._lock:
                self.refused_unavailable += 1
            raise BackendUnavailable(self._outage)
        attempt = int(request.variables.get("attempt", "1"))
        now = self.clock.now()
        with self._lock:
            provider_id = f"SIM-{request.delivery_id}-{attempt}"
            if provider_id in self._placed:
                raise OriginateError(
                    f"attempt {attempt} of delivery {request.delivery_id} was already placed"
                )
            self._placed.add(provider_id)
            self.originated += 1
            self.recent_requests.append(request)
            self._write_log(request, attempt, now)
            self._calls[provider_id] = _Call(request.delivery_id, attempt, provider_id)
            if len(self._calls) > self.profile.channels:
                self.congested += 1
                script = CallScript("congested", (ScriptedEvent(0.0, T.FAILED, "CONGESTION"),))
            else:
                script = script_call(
                    request.delivery_id, attempt, request.number, request.timeout_s, self.profile
                )
            self.peak_channels = max(self.peak_channels, len(self._calls))
            for scripted in script.events:
                self._push(now + timedelta(seconds=scripted.offset_s), provider_id, scripted)
        return provider_id

    def hangup(self, delivery_id: int, provider_id: str | None) -> None:
        with self._lock:
            call = self._calls.get(provider_id or "")
            if call is None or call.ended:
                return
            call.ended = True  # what the script still had is dropped
            cause = "NORMAL_CLEARING" if call.answered else "ORIGINATOR_CANCEL"
            kind = T.COMPLETED if call.answered else T.FAILED
            self._push(self.clock.now(), call.provider_id, ScriptedEvent(0.0, kind, cause), forced=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # --- the network's own clockwork --------------------------------------------------------

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def next_event_at(self) -> datetime | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def pump(self, now: datetime | None = None) -> int:
        """Deliver every event due by `now` to the sink; returns how many."""
        now = now or self.clock.now()
        due: list[CallEvent] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                at, seq, provider_id, scripted, forced = heapq.heappop(self._heap)
                call = self._calls.get(provider_id)
                if call is None or (call.ended and not forced):
                    continue
                if scripted.type in (T.ANSWERED, T.MACHINE):
                    call.answered = True
                due.append(
                    CallEvent(
                        delivery_id=call.delivery_id,
                        type=scripted.type,
                        provider=self.name,
                        provider_id=provider_id,
                        at=at,
                        hangup_cause=scripted.hangup_cause,
                        digits=scripted.digits,
                        event_key=f"{provider_id}:{seq}",
                        detail={"attempt": call.attempt, **({"ivr": "simulated"} if scripted.ivr else {})},
                    )
                )
                if scripted.type in (T.COMPLETED, T.BUSY, T.NO_ANSWER, T.FAILED):
                    del self._calls[provider_id]
        sink = self._sink
        if not due:
            return 0
        if sink is None:
            raise RuntimeError("the simulated network has events but was never started")
        for event in due:
            sink(event)
        return len(due)

    def _push(self, at: datetime, provider_id: str, scripted: ScriptedEvent, forced: bool = False) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), provider_id, scripted, forced))

    def _write_log(self, request: CallRequest, attempt: int, now: datetime) -> None:
        if self._log_file is not None:
            self._log_file.write(
                json.dumps({"delivery_id": request.delivery_id, "attempt": attempt, "at": now.isoformat()})
                + "\n"
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump()
            except Exception as exc:  # the sink failed: log it, keep the network running
                log_event(logger, "simulator.sink_failed", logging.ERROR, error=repr(exc))
            self._stop.wait(0.02)


class SimulatedSender:
    """The simulated SMS or email provider (`MessageSender`): accepts every message, remembers it.

    Addresses at `BOUNCING_DOMAIN` and numbers in `INVALID_PREFIXES` are refused permanently.
    """

    def __init__(self, channel: MessageChannel):
        if channel not in ("sms", "email"):
            raise ValueError(f"unknown message channel {channel!r}")
        self.channel: MessageChannel = channel
        self.sent: list[OutgoingMessage] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.to.endswith("@" + BOUNCING_DOMAIN) or message.to.startswith(INVALID_PREFIXES):
            raise SendError(f"simulated {self.channel}: no such recipient", permanent=True)
        with self._lock:
            self.sent.append(message)
            return SendResult(provider="simulator", provider_id=f"SIM-{self.channel}-{next(self._ids)}")
