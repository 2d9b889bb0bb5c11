"""Helpers of the Asterisk end-to-end tests (imported by name: tests are not a package)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from deliveries.call_backend import CallEvent, CallEventType
from tests.support import testbed

# Nothing listens here: calls that reach the IVR fail over to the dialplan's fallback.
NO_FASTAGI_PORT = 4599


class EventLog:
    """A thread-safe CallEvent sink with waiting helpers."""

    def __init__(self):
        self.events: list[CallEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: CallEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def for_delivery(self, delivery_id: int) -> list[CallEvent]:
        with self._cond:
            return [e for e in self.events if e.delivery_id == delivery_id]

    def types(self, delivery_id: int) -> list[CallEventType]:
        return [e.type for e in self.for_delivery(delivery_id)]

    def terminal(self) -> dict[int, list[CallEvent]]:
        out: dict[int, list[CallEvent]] = defaultdict(list)
        with self._cond:
            for e in self.events:
                if e.type in TERMINAL:
                    out[e.delivery_id].append(e)
        return out

    def wait_terminal(self, delivery_ids, timeout_s: float) -> dict[int, list[CallEvent]]:
        deadline = time.monotonic() + timeout_s
        wanted = set(delivery_ids)
        with self._cond:
            while True:
                done = {e.delivery_id for e in self.events if e.type in TERMINAL}
                if wanted <= done or time.monotonic() >= deadline:
                    break
                self._cond.wait(timeout=0.5)
        return self.terminal()


TERMINAL = {CallEventType.COMPLETED, CallEventType.BUSY, CallEventType.NO_ANSWER, CallEventType.FAILED}


def wait_until_no_channels(timeout_s: float = 30) -> None:
    """Tests start from an idle PBX so one test's calls never end in the next."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "0 active channels" in testbed.asterisk_cli("core show channels"):
            return
        time.sleep(0.5)
    testbed.asterisk_cli("channel request hangup all")
    time.sleep(1)


def waiting_caller(
    workdir, *, caller: str, dialed: str = "08000011", speak_after_ms: int, stay_ms: int, port: int = 5090
) -> testbed.Sipp:
    """One call to the call-back number that presses no key (it waits to be put through),
    speaks after `speak_after_ms` and stays until the IVR hangs up (sipp -m 1)."""
    scenario = testbed.render_scenario(
        "callback_waiting_caller.xml",
        workdir,
        caller=caller,
        dialed=dialed,
        speak_after_ms=speak_after_ms,
        stay_ms=stay_ms,
    )
    return testbed.Sipp(
        [
            "-sf",
            str(scenario),
            testbed.ASTERISK_SIP,
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
            "-mp",
            "6200",
            "-t",
            "u1",
        ],
        workdir,
        "caller",
    )


def queue_caller(
    workdir,
    *,
    label: str,
    caller: str,
    port: int,
    media_port: int,
    speak_after_ms: int,
    stay_ms: int,
    digit: str | None = None,
    digit_at_ms: int = 0,
) -> testbed.Sipp:
    """One of several callers on the call-back number at once (own SIP and media ports, own
    logs): waits without a key (`digit` None), or presses `digit` after `digit_at_ms`; speaks
    `speak_after_ms` later and hangs up after `stay_ms` unless the PBX hangs up first."""
    params: dict[str, object] = {
        "caller": caller,
        "dialed": "08000011",
        "speak_after_ms": speak_after_ms,
        "stay_ms": stay_ms,
    }
    template = "callback_waiting_caller.xml"
    if digit is not None:
        template = "callback_caller.xml"
        params |= {
            "dtmf_pcap": str(testbed.SIPP_SHARE / f"dtmf_2833_{digit}.pcap"),
            "digit_at_ms": digit_at_ms,
        }
    directory = workdir / label
    directory.mkdir(exist_ok=True)
    scenario = testbed.render_scenario(template, directory, **params)
    args = ["-sf", str(scenario), testbed.ASTERISK_SIP, "-m", "1", "-i", "127.0.0.1", "-p", str(port)]
    args += ["-mi", "127.0.0.1", "-mp", str(media_port), "-t", "u1"]
    return testbed.Sipp(args, directory, label)
