"""The simulated network's outage switch: a PBX restart in training mode and in fast tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dialer_fixtures import make_action, make_deliveries

from config.clock import FakeClock
from config.settings import SimulatorSettings
from db.models import DeliveryState
from deliveries.call_backend import CALL_CUT, BackendUnavailable, CallEventType, CallRequest, OriginateError
from deliveries.events import apply_call_event
from deliveries.states import transition
from dialer.simulator import SimulatedNetwork

T = CallEventType
S = DeliveryState
# Everyone answers after ringing, and listens long enough to be cut.
ANSWERING = SimulatorSettings(
    answer_rate=1.0, busy_rate=0, no_answer_rate=0, failure_rate=0, machine_rate=0, listen_mean_s=60
)


def request(i, attempt=1):
    return CallRequest(
        delivery_id=i,
        number=f"+3115{i:07d}",
        caller_id="0343529850",
        timeout_s=30,
        variables={"attempt": str(attempt)},
    )


def test_outage_cuts_calls_in_progress_and_refuses_new_ones_until_restored():
    clock = FakeClock()
    network = SimulatedNetwork(clock, ANSWERING, threaded=False)
    events = []
    network.start(events.append)
    assert network.unavailable_reason() is None
    network.originate(request(1))
    clock.sleep(60)  # call 1 is answered and listening
    network.pump()
    assert events[-1].type == T.ANSWERED
    network.originate(request(2))
    network.pump()  # call 2 is still being set up

    assert network.outage("Asterisk wordt afgesloten/herstart") == 2
    assert network.unavailable_reason() == "Asterisk wordt afgesloten/herstart"
    with pytest.raises(BackendUnavailable) as refused:
        network.originate(request(3))
    assert isinstance(refused.value, OriginateError)
    assert str(refused.value) == "Asterisk wordt afgesloten/herstart"
    network.pump()
    ends = {e.delivery_id: (e.type, e.hangup_cause) for e in events if e.type == T.FAILED}
    assert ends == {1: (T.FAILED, CALL_CUT), 2: (T.FAILED, "NETWORK_OUT_OF_ORDER")}
    assert all("ivr" not in e.detail for e in events if e.type == T.FAILED)  # no simulated IVR walk
    clock.sleep(120)
    count = len(events)
    network.pump()
    assert len(events) == count  # what the cut calls' scripts still had never comes
    assert network.active_calls == 0

    network.restore()
    assert network.unavailable_reason() is None
    network.originate(request(3))  # the refused attempt was not used up
    assert network.refused_unavailable == 1 and network.cut_calls == 2


def test_call_cut_by_the_outage_is_retried_by_the_dialer_rules(db, room, settings):
    clock = FakeClock()
    network = SimulatedNetwork(clock, ANSWERING, threaded=False)
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        row.attempts = 1
        transition(s, row, S.DIALING, event="dialer.claimed", clock=clock)
        s.commit()
        network.start(lambda event: apply_call_event(s, event, clock, settings))
        network.originate(CallRequest(row.id, row.target, "0343529850", 30, variables={"attempt": "1"}))
        clock.sleep(60)
        network.pump()
        assert row.state == S.ANSWERED
        network.outage("centrale niet bereikbaar")
        network.pump()
        s.commit()
        assert row.state == S.QUEUED and row.hangup_cause == CALL_CUT and row.attempts == 1
        assert row.next_attempt_at == clock.now() + timedelta(
            seconds=settings.dialer.failed_retry_delays_s[0]
        )
