"""The AMI backend against the real testbed: each phone behaviour lands as the right event, one
terminal event per call, and a dropped AMI link loses nothing."""

from __future__ import annotations

import re
import time

import pytest
from asterisk_e2e import wait_until_no_channels

from deliveries.call_backend import CallEventType as T
from deliveries.call_backend import CallRequest, OriginateError
from dialer.backends.asterisk import AsteriskBackend
from tests.support import testbed

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asterisk,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

CALLER_ID = "0343529850"

# delivery id -> (number, expected terminal, expected person/machine, expected digit)
# No FastAGI server listens here: every answered call gets the dialplan's fallback apology, which
# the adapter reports as FAILED with cause IVR_FALLBACK (the alert was not heard).
BEHAVIOURS = {
    1: ("+31690000001", T.FAILED, T.ANSWERED, None),
    2: ("+31691100002", T.FAILED, T.ANSWERED, "1"),
    3: ("+31691200003", T.FAILED, T.ANSWERED, "2"),
    4: ("+31691300004", T.FAILED, T.ANSWERED, "3"),
    5: ("+31691900005", T.FAILED, T.ANSWERED, "9"),
    6: ("+31692000006", T.NO_ANSWER, None, None),
    7: ("+31693000007", T.BUSY, None, None),
    8: ("+31694000008", T.FAILED, T.MACHINE, None),
}


@pytest.fixture
def backend(phones, ami_settings, event_log):
    wait_until_no_channels()
    b = AsteriskBackend(ami_settings, caller_id=CALLER_ID, reconnect_delays_s=(0.2,))
    b.start(event_log)
    yield b
    b.stop()


def test_every_phone_behaviour_becomes_the_right_events(backend, event_log):
    for delivery_id, (number, *_rest) in BEHAVIOURS.items():
        provider_id = backend.originate(
            CallRequest(delivery_id, number, CALLER_ID, timeout_s=4, variables={"attempt": "1"})
        )
        assert provider_id.startswith(f"bn-{delivery_id}-")

    terminal = event_log.wait_terminal(BEHAVIOURS, timeout_s=60)

    for delivery_id, (number, end, answered_as, digit) in BEHAVIOURS.items():
        types = event_log.types(delivery_id)
        assert [e.type for e in terminal[delivery_id]] == [end], (number, types)
        if answered_as is None:
            assert T.ANSWERED not in types and T.MACHINE not in types, (number, types)
        else:
            # ANSWERED at the answer; then detection's verdict: MACHINE, or a person's
            # verdict recorded with a second ANSWERED.
            assert types.count(T.ANSWERED) == (2 if answered_as == T.ANSWERED else 1), (number, types)
            assert types.count(T.MACHINE) == (1 if answered_as == T.MACHINE else 0), (number, types)
            if answered_as == T.MACHINE:  # answered first, detection's verdict after
                assert types.index(T.ANSWERED) < types.index(T.MACHINE), (number, types)
        digits = [e.digits for e in event_log.for_delivery(delivery_id) if e.type == T.DTMF]
        assert digits == ([digit] if digit else []), (number, types)
        events = event_log.for_delivery(delivery_id)
        assert all(e.provider == "asterisk" and e.provider_id == events[0].provider_id for e in events)
        assert all(e.detail.get("attempt") == 1 for e in events)
        assert len({e.event_key for e in events}) == len(events)

    assert terminal[7][0].hangup_cause == "USER_BUSY"
    assert terminal[7][0].detail["q850"] == 17
    assert terminal[6][0].detail["q850"] == 19
    assert T.RINGING in event_log.types(6)
    # With no FastAGI server the answered calls went to the dialplan's fallback, not dead air.
    assert terminal[1][0].detail.get("fallback") is True
    assert {terminal[d][0].hangup_cause for d in (1, 2, 3, 4, 5, 8)} == {"IVR_FALLBACK"}
    assert backend.in_flight() == 0


def _manager_sessions() -> list[str]:
    out = testbed.asterisk_cli("manager show connected")
    # Rows: username, address, start, elapsed, file descriptor, ...
    return re.findall(r"^\s*burgernet\s+\S+\s+\d+\s+\d+\s+(\d+)", out, re.MULTILINE)


def test_dropped_ami_links_are_reconnected_and_nothing_is_lost(phones, ami_settings, event_log):
    wait_until_no_channels()
    # Stay deaf for 3 s after the drop, so calls end while nobody listens.
    backend = AsteriskBackend(ami_settings, caller_id=CALLER_ID, reconnect_delays_s=(3.0,))
    others = set(_manager_sessions())  # AMI sessions that are not ours (other processes)
    backend.start(event_log)
    try:
        plan = {}
        numbers = ["+3169000{:04d}", "+3169110{:04d}", "+3169200{:04d}", "+3169300{:04d}", "+3169400{:04d}"]
        for i in range(20):
            delivery_id = 100 + i
            plan[delivery_id] = numbers[i % len(numbers)].format(i)
            backend.originate(CallRequest(delivery_id, plan[delivery_id], CALLER_ID, timeout_s=3))
        time.sleep(1.0)
        sessions = set(_manager_sessions()) - others
        assert len(sessions) == 1 + ami_settings.ami_connections
        for fd in sessions:
            testbed.asterisk_cli(f"manager kick session {fd}")
        time.sleep(0.5)
        with pytest.raises(OriginateError):
            backend.originate(CallRequest(999, "+31690000999", CALLER_ID, timeout_s=3))

        terminal = event_log.wait_terminal(plan, timeout_s=60)

        assert set(terminal) >= set(plan)
        assert all(len(terminal[d]) == 1 for d in plan), {d: terminal[d] for d in plan}
        sources = {terminal[d][0].detail.get("source") for d in plan}
        assert "reconciled" in sources, sources  # some calls ended while we were deaf
        # Answered calls got the fallback (no FastAGI here), also those settled from AstDB.
        expected = {0: T.FAILED, 1: T.FAILED, 2: T.NO_ANSWER, 3: T.BUSY, 4: T.FAILED}
        for i, delivery_id in enumerate(plan):
            assert terminal[delivery_id][0].type == expected[i % 5], (
                plan[delivery_id],
                event_log.types(delivery_id),
            )
        assert backend.reconnects >= 1 + ami_settings.ami_connections
        assert 999 not in terminal
        assert backend.in_flight() == 0
    finally:
        backend.stop()
