"""The AMI adapter under faults, driven with AMI events (no PBX): what it says about its
availability, and how it ends answered calls that the PBX or the IVR cut."""

from __future__ import annotations

import pytest

from config.settings import AsteriskSettings
from deliveries.call_backend import CALL_CUT, IVR_FALLBACK, BackendUnavailable, CallEventType, CallRequest
from dialer.backends.asterisk import (
    NO_LINK,
    SHUTDOWN_GRACE_S,
    SHUTTING_DOWN,
    AsteriskBackend,
    CallInFlight,
    hangup_record_fallback,
)

T = CallEventType
CALL_ID = "bn-5-abcdefghij"


class Ev:
    def __init__(self, name: str, **headers: str):
        self.name = name
        self.headers = headers

    def get_header(self, name, default=None):
        return self.headers.get(name, default)


class UpManager:
    def connected(self) -> bool:
        return True

    def send_action(self, action):
        return Ev("", Response="Success")

    def close(self) -> None:
        pass


@pytest.fixture
def backend():
    b = AsteriskBackend(AsteriskSettings(), caller_id="0343529850")
    b.events = []
    b._sink = b.events.append
    return b


def links_up(b: AsteriskBackend) -> None:
    for link in [b._event_link, *b._originate_links]:
        link.manager = UpManager()


def answered_call(b: AsteriskBackend) -> CallInFlight:
    call = CallInFlight(CALL_ID, 5, 0.0, attempt=1)
    b._calls[CALL_ID] = call
    b._handle(Ev("Newstate", Uniqueid=CALL_ID, ChannelStateDesc="Up", Channel="PJSIP/trunk-1"))
    b._handle(Ev("UserEvent", Uniqueid=CALL_ID, UserEvent="BurgernetAMD", Status="HUMAN", Cause="HUMAN-1"))
    return call


def ends(b):
    return [(e.type, e.hangup_cause) for e in b.events if e.type not in (T.ANSWERED, T.RINGING)]


def test_no_link_means_unavailable_and_no_call_handed_over(backend):
    assert backend.unavailable_reason() == NO_LINK
    with pytest.raises(BackendUnavailable, match=NO_LINK):
        backend.originate(CallRequest(5, "+31612345678", "0343529850", 30))
    assert backend.in_flight() == 0
    links_up(backend)
    assert backend.unavailable_reason() is None


def test_shutdown_cuts_answered_calls_and_closes_until_asterisk_is_back(backend):
    links_up(backend)
    answered_call(backend)
    backend._handle(Ev("Shutdown", Shutdown="Cleanly", Restart="True"))
    assert backend.unavailable_reason() == SHUTTING_DOWN
    with pytest.raises(BackendUnavailable, match="afgesloten"):
        backend.originate(CallRequest(6, "+31612345678", "0343529850", 30))
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="0"))
    assert ends(backend) == [(T.FAILED, CALL_CUT)]
    backend._startup_stamp = lambda: "2026-11-29 00:30:00"
    backend._after_event_link_back()
    assert backend.unavailable_reason() is None


def test_hangup_by_asterisk_just_before_its_shutdown_is_a_cut(backend):
    links_up(backend)
    call = answered_call(backend)
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="0"))  # channels go first
    assert ends(backend) == []  # held for the grace period
    backend._handle(Ev("Shutdown", Shutdown="Uncleanly", Restart="True"))
    backend._settle_ended_calls(call.ended_deadline + 0.01)
    assert ends(backend) == [(T.FAILED, CALL_CUT)]


def test_participant_hanging_up_is_completed_after_the_grace(backend):
    links_up(backend)
    call = answered_call(backend)
    backend._handle(Ev("AGIExecStart", Uniqueid=CALL_ID, Command="STREAM FILE /x/alert 1239"))
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="16"))
    assert ends(backend) == []  # not the IVR's own end: wait for a possible shutdown
    assert call.ended_deadline is not None and SHUTDOWN_GRACE_S <= 2.0
    backend._settle_ended_calls(call.ended_deadline + 0.01)
    assert ends(backend) == [(T.COMPLETED, "NORMAL_CLEARING")]


def test_call_the_ivr_hung_up_is_completed_at_once(backend):
    links_up(backend)
    answered_call(backend)
    backend._handle(Ev("AGIExecStart", Uniqueid=CALL_ID, Command="HANGUP"))
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="16"))
    assert ends(backend) == [(T.COMPLETED, "NORMAL_CLEARING")]


def test_hangups_while_asterisk_refuses_calls_for_a_shutdown_are_cuts(backend):
    links_up(backend)
    call = answered_call(backend)
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="16"))
    backend._refusing_until = call.ended_deadline + 1.0  # an Originate was just refused
    backend._settle_ended_calls(call.ended_deadline + 0.01)
    assert ends(backend) == [(T.FAILED, CALL_CUT)]


def test_fallback_apology_ends_as_ivr_fallback(backend):
    links_up(backend)
    answered_call(backend)
    backend._handle(Ev("UserEvent", Uniqueid=CALL_ID, UserEvent="BurgernetFallback", DeliveryId="5"))
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="16"))
    assert ends(backend) == [(T.FAILED, IVR_FALLBACK)]


def test_restart_seen_after_the_reconnect_cuts_the_answered_calls(backend):
    links_up(backend)
    call = answered_call(backend)
    backend._startup = "2026-11-29 00:10:00"
    backend._startup_stamp = lambda: "2026-11-29 00:30:00"  # a new Asterisk answers
    backend._after_event_link_back()
    assert call.detail["cut"] == "pbx_restart"
    backend._finish(call, 16, source="reconciled")  # its hangup record, read after the restart
    assert ends(backend) == [(T.FAILED, CALL_CUT)]


def test_reconnect_to_the_same_asterisk_cuts_nothing(backend):
    links_up(backend)
    call = answered_call(backend)
    backend._startup = "2026-11-29 00:10:00"
    backend._startup_stamp = lambda: "2026-11-29 00:10:00"
    backend._after_event_link_back()
    assert "cut" not in call.detail


def test_originate_refused_for_a_shutdown_is_no_attempt(backend):
    links_up(backend)

    class Refusing:
        name = "originate-0"
        connected = True

        def send(self, action):
            return Ev("", Response="Error", Message="Originate failed: Asterisk is shutting down")

    backend._pick_link = lambda: Refusing()
    with pytest.raises(BackendUnavailable, match="afgesloten"):
        backend.originate(CallRequest(6, "+31612345678", "0343529850", 30))
    assert backend.unavailable_reason() == SHUTTING_DOWN


def test_hangup_record_keeps_the_fallback():
    assert hangup_record_fallback("16|answered|HUMAN|1")
    assert not hangup_record_fallback("16|answered|HUMAN|")
    assert not hangup_record_fallback("16|answered|HUMAN")


def test_stopping_reports_the_calls_held_for_the_grace(backend):
    links_up(backend)
    answered_call(backend)
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="16"))
    assert ends(backend) == []
    backend.stop()
    assert ends(backend) == [(T.COMPLETED, "NORMAL_CLEARING")]


def test_answered_at_once_the_verdict_after_and_the_ivrs_end_is_normal_clearing(backend):
    links_up(backend)
    call = CallInFlight(CALL_ID, 5, 0.0, attempt=1)
    backend._calls[CALL_ID] = call
    backend._handle(Ev("Newstate", Uniqueid=CALL_ID, ChannelStateDesc="Up", Channel="PJSIP/trunk-1"))
    assert [e.type for e in backend.events] == [T.ANSWERED]  # before detection has decided
    backend._handle(Ev("UserEvent", Uniqueid=CALL_ID, UserEvent="BurgernetAMD", Status="HUMAN", Cause="X"))
    verdict = backend.events[-1]
    assert (verdict.type, verdict.detail["amd_status"]) == (T.ANSWERED, "HUMAN")
    assert verdict.event_key != backend.events[0].event_key
    backend._handle(Ev("AGIExecStart", Uniqueid=CALL_ID, Command="HANGUP"))
    backend._handle(Ev("Hangup", Uniqueid=CALL_ID, Cause="0"))  # Asterisk ended it itself
    end = backend.events[-1]
    assert (end.type, end.hangup_cause, end.detail["hangup_by"]) == (T.COMPLETED, "NORMAL_CLEARING", "ivr")


def test_a_machine_after_the_answer(backend):
    links_up(backend)
    backend._calls[CALL_ID] = CallInFlight(CALL_ID, 5, 0.0, attempt=1)
    backend._handle(Ev("Newstate", Uniqueid=CALL_ID, ChannelStateDesc="Up", Channel="PJSIP/trunk-1"))
    backend._handle(Ev("UserEvent", Uniqueid=CALL_ID, UserEvent="BurgernetAMD", Status="MACHINE", Cause="X"))
    assert [e.type for e in backend.events] == [T.ANSWERED, T.MACHINE]
