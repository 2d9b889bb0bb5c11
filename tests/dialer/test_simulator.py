"""The simulated phone network: reproducible calls, its rates, a finite trunk, hang-up."""

from __future__ import annotations

from collections import Counter

import pytest

from config.clock import FakeClock
from config.settings import SimulatorSettings
from deliveries.call_backend import CallEventType, CallRequest, OriginateError
from deliveries.message_sender import OutgoingMessage, SendError
from dialer.simulator import ScaledClock, SimulatedNetwork, SimulatedSender, script_call

T = CallEventType
PROFILE = SimulatorSettings()


def test_scripts_are_reproducible_and_follow_the_rates():
    first = [script_call(i, 1, "+31151234567", 30, PROFILE) for i in range(4000)]
    again = [script_call(i, 1, "+31151234567", 30, PROFILE) for i in range(4000)]
    assert first == again
    outcomes = Counter(s.outcome for s in first)
    assert outcomes["answered"] / 4000 == pytest.approx(PROFILE.answer_rate, abs=0.03)
    assert outcomes["busy"] / 4000 == pytest.approx(PROFILE.busy_rate, abs=0.02)
    assert outcomes["machine"] / 4000 == pytest.approx(PROFILE.machine_rate, abs=0.02)
    answered = [s for s in first if s.outcome == "answered"]
    assert all(s.events[2].type == T.ANSWERED and s.events[2].offset_s < 30 for s in answered)
    assert sum(s.duration_s for s in answered) / len(answered) > PROFILE.listen_mean_s
    digits = Counter(e.digits for s in answered for e in s.events if e.type == T.DTMF)
    assert digits["3"] > digits["9"] > 0
    no_answer = next(s for s in first if s.outcome == "no_answer")
    assert no_answer.events[-1].type == T.NO_ANSWER and no_answer.duration_s == 31.0


def test_invalid_numbers_do_not_exist():
    script = script_call(5, 1, "+3199000000", 30, PROFILE)
    assert script.outcome == "invalid"
    assert script.events[-1].hangup_cause == "UNALLOCATED_NUMBER"


def request(i, attempt=1):
    return CallRequest(
        delivery_id=i,
        number=f"+3115{i:07d}",
        caller_id="0343529850",
        timeout_s=30,
        variables={"attempt": str(attempt)},
    )


def test_network_delivers_events_in_time_with_a_finite_trunk():
    clock = FakeClock()
    network = SimulatedNetwork(clock, SimulatorSettings(channels=3), threaded=False)
    events = []
    network.start(events.append)
    for i in range(4):
        network.originate(request(i))
    assert network.congested == 1 and network.active_calls == 4
    with pytest.raises(OriginateError):
        network.originate(request(0))  # the same attempt is never placed twice
    network.pump(clock.now())
    assert [e.hangup_cause for e in events if e.type == T.FAILED] == ["CONGESTION"]
    clock.advance(3600)
    network.pump(clock.now())
    assert network.active_calls == 0
    by_call = Counter(e.delivery_id for e in events)
    assert set(by_call) == {0, 1, 2, 3}
    assert all(e.detail["attempt"] == 1 and e.provider_id for e in events)
    assert len({e.event_key for e in events}) == len(events)


def test_hangup_ends_an_answered_call_at_once():
    clock = FakeClock()
    network = SimulatedNetwork(
        clock,
        SimulatorSettings(answer_rate=1, busy_rate=0, no_answer_rate=0, failure_rate=0, machine_rate=0),
        threaded=False,
    )
    events = []
    network.start(events.append)
    provider_id = network.originate(request(1))
    clock.advance(25)
    network.pump(clock.now())
    assert events[-1].type == T.ANSWERED
    network.hangup(1, provider_id)
    network.pump(clock.now())
    assert events[-1].type == T.COMPLETED and network.active_calls == 0
    clock.advance(600)
    assert network.pump(clock.now()) == 0  # the rest of the script is gone


def test_scaled_clock_runs_faster():
    clock = ScaledClock(1000)
    start = clock.now()
    clock.sleep(5)  # five simulated seconds, five real milliseconds
    assert (clock.now() - start).total_seconds() >= 5
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_simulated_sender():
    sender = SimulatedSender("sms")
    result = sender.send(OutgoingMessage(channel="sms", to="+31612345678", text="Burgernet"))
    assert result.provider_id and sender.sent[0].text == "Burgernet"
    with pytest.raises(SendError) as error:
        SimulatedSender("email").send(
            OutgoingMessage(channel="email", to="x@bounce.invalid", text="t", subject="s")
        )
    assert error.value.permanent
