"""The Twilio CallBackend against the fake REST server, and the status mapping on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from twilio_seed import ACCOUNT_SID, OUR_NUMBER

from deliveries.call_backend import CallEventType, CallRequest, OriginateError
from dialer.backends.twilio import (
    TwilioCallBackend,
    TwilioOriginateError,
    call_event_from_amd,
    call_event_from_status,
    to_e164,
)

AT = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def request_for(number="+31612345678", delivery_id=7, **kw) -> CallRequest:
    return CallRequest(delivery_id=delivery_id, number=number, caller_id="0343529850", timeout_s=25, **kw)


def test_originate_sends_the_real_form_fields(twilio_settings, fake_twilio):
    twilio_settings.twilio.public_base_url = "https://burgernet.example.nl"
    backend = TwilioCallBackend(twilio_settings)
    sid = backend.originate(request_for())
    assert sid.startswith("CA") and sid in fake_twilio.calls
    method, path, form = fake_twilio.requests[-1]
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert form["To"] == ["+31612345678"]
    assert form["From"] == [OUR_NUMBER]
    assert form["Url"] == ["https://burgernet.example.nl/twilio/voice/alert?delivery=7"]
    assert form["StatusCallback"] == ["https://burgernet.example.nl/twilio/call-status?delivery=7"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == ["DetectMessageEnd"]
    assert form["AsyncAmd"] == ["true"]
    assert form["AsyncAmdStatusCallback"] == ["https://burgernet.example.nl/twilio/amd?delivery=7"]
    assert form["Timeout"] == ["25"]


def test_caller_id_falls_back_to_the_platform_number_in_e164(twilio_settings, fake_twilio):
    twilio_settings.twilio.from_number = ""
    TwilioCallBackend(twilio_settings).originate(request_for())
    assert fake_twilio.requests[-1][2]["From"] == ["+31343529850"]


def test_synchronous_amd_and_no_amd(twilio_settings, fake_twilio):
    twilio_settings.twilio.async_amd = False
    params = TwilioCallBackend(twilio_settings).create_params(request_for())
    assert params["machine_detection"] == "DetectMessageEnd" and "async_amd" not in params
    twilio_settings.twilio.machine_detection = False
    assert "machine_detection" not in TwilioCallBackend(twilio_settings).create_params(request_for())


def test_a_text_only_call_carries_inline_twiml_not_a_url(twilio_settings, fake_twilio):
    req = request_for(flow="verification", variables={"text": "Uw code is 1 2 3 4 5 6."})
    TwilioCallBackend(twilio_settings).originate(req)
    form = fake_twilio.requests[-1][2]
    assert "Url" not in form
    assert "Uw code is 1 2 3 4 5 6." in form["Twiml"][0]
    assert 'language="nl-NL"' in form["Twiml"][0]


def test_invalid_number_is_a_permanent_refusal(twilio_settings, fake_twilio):
    with pytest.raises(TwilioOriginateError) as err:
        TwilioCallBackend(twilio_settings).originate(request_for(number="+3161"))
    assert err.value.code == 21211 and err.value.permanent
    assert isinstance(err.value, OriginateError)
    assert not fake_twilio.calls


def test_wrong_credentials_are_not_blamed_on_the_number(twilio_settings, fake_twilio):
    twilio_settings.twilio.auth_token = "wrong"
    with pytest.raises(TwilioOriginateError) as err:
        TwilioCallBackend(twilio_settings).originate(request_for())
    assert err.value.code == 20003 and not err.value.permanent


def test_unreachable_twilio_is_a_temporary_failure(twilio_settings):
    twilio_settings.twilio.api_base_url = "http://127.0.0.1:9"  # discard port: refused
    twilio_settings.twilio.request_timeout_s = 2
    with pytest.raises(TwilioOriginateError) as err:
        TwilioCallBackend(twilio_settings).originate(request_for())
    assert not err.value.permanent


def test_unconfigured_twilio_fails_at_start(settings):
    with pytest.raises(OriginateError, match="not configured"):
        TwilioCallBackend(settings).start(lambda event: None)


def test_hangup_completes_the_call(twilio_settings, fake_twilio):
    backend = TwilioCallBackend(twilio_settings)
    sid = backend.originate(request_for())
    fake_twilio.calls[sid].status_callback = None  # nobody listening in this test
    backend.hangup(7, sid)
    assert fake_twilio.requests[-1][:2] == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json")
    assert fake_twilio.requests[-1][2]["Status"] == ["completed"]
    assert fake_twilio.calls[sid].status == "canceled"
    backend.hangup(7, "CA" + "f" * 32)  # unknown call: logged, not raised


@pytest.mark.parametrize(
    "status,expected,cause",
    [
        ("initiated", CallEventType.DIALING, None),
        ("ringing", CallEventType.RINGING, None),
        ("in-progress", CallEventType.ANSWERED, None),
        ("completed", CallEventType.COMPLETED, "NORMAL_CLEARING"),
        ("busy", CallEventType.BUSY, "USER_BUSY"),
        ("no-answer", CallEventType.NO_ANSWER, "NO_ANSWER"),
        ("failed", CallEventType.FAILED, "failed"),
        ("canceled", CallEventType.FAILED, "canceled"),
    ],
)
def test_every_call_status_maps_to_a_dialer_event(status, expected, cause):
    event = call_event_from_status(3, {"CallStatus": status, "CallSid": "CA1"}, AT)
    assert (event.type, event.delivery_id, event.provider_id, event.hangup_cause) == (
        expected,
        3,
        "CA1",
        cause,
    )
    assert event.event_key == f"twilio:CA1:{status}"
    assert event.provider == "twilio" and event.at == AT


def test_queued_is_no_event_and_an_unknown_status_is_refused():
    assert call_event_from_status(3, {"CallStatus": "queued", "CallSid": "CA1"}, AT) is None
    with pytest.raises(ValueError, match="unknown Twilio CallStatus"):
        call_event_from_status(3, {"CallStatus": "exploded", "CallSid": "CA1"}, AT)


def test_failed_with_a_sip_code_keeps_it_as_the_cause():
    event = call_event_from_status(
        3, {"CallStatus": "failed", "CallSid": "CA1", "SipResponseCode": "404"}, AT
    )
    assert event.hangup_cause == "sip:404"


@pytest.mark.parametrize(
    "answered_by,machine",
    [
        ("machine_end_beep", True),
        ("machine_end_silence", True),
        ("fax", True),
        ("human", False),
        ("unknown", False),
    ],
)
def test_amd_results(answered_by, machine):
    event = call_event_from_amd(3, {"AnsweredBy": answered_by, "CallSid": "CA1"}, AT)
    assert (event is not None) == machine
    if machine:
        assert event.type is CallEventType.MACHINE and event.event_key == "twilio:CA1:amd"


def test_numbers_are_normalised_to_e164():
    assert to_e164("0343-529850", "NL") == "+31343529850"
    assert to_e164("+31 6 12345678", "NL") == "+31612345678"
    with pytest.raises(ValueError):
        to_e164("geen nummer", "NL")


def test_urls_carry_only_the_delivery_id(twilio_settings):
    params = TwilioCallBackend(twilio_settings).create_params(request_for(delivery_id=42))
    assert parse_qs(urlparse(params["url"]).query) == {"delivery": ["42"]}
