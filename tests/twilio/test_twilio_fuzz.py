"""Fuzz suite for the signed Twilio webhooks (issue 15): validly signed requests with generated
form values, on every webhook. The property: no 5xx (Twilio would retry it for ever), and a
refused request writes no delivery, sighting or participant. Profiles: see tests/conftest.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio_seed import OUR_NUMBER, seed_wave

from db.models import Delivery, Participant, Sighting, VerificationCode

NUMBER = "+31612345678"

ODD = ["", " ", "0", "-1", "²", "٣", "9223372036854775808", "1" * 400, "\x00", "<script>", "%00", "NaN"]
text = st.one_of(st.sampled_from(ODD), st.text(max_size=60))
sid = st.one_of(st.sampled_from(["CA" + "a" * 32, "SM" + "b" * 32, "RE" + "c" * 32]), text)

WEBHOOKS = {
    "call-status": (
        "/twilio/call-status",
        {
            "CallSid": sid,
            "CallStatus": st.one_of(
                st.sampled_from(["ringing", "in-progress", "completed", "busy", "no-answer", "failed"]), text
            ),
            "SequenceNumber": text,
            "CallDuration": text,
            "SipResponseCode": text,
        },
    ),
    "amd": ("/twilio/amd", {"CallSid": sid, "AnsweredBy": text, "CallStatus": text}),
    "voice": ("/twilio/voice/alert", {"CallSid": sid, "Digits": text, "AnsweredBy": text}),
    "callback": ("/twilio/voice/callback", {"CallSid": sid, "Digits": text, "From": text}),
    "callback-status": ("/twilio/callback-status", {"CallSid": sid, "CallStatus": text, "From": text}),
    "recording": (
        "/twilio/recording",
        {"CallSid": sid, "RecordingSid": sid, "RecordingStatus": text, "RecordingDuration": text},
    ),
    "message-status": (
        "/twilio/message-status",
        {"MessageSid": sid, "MessageStatus": text, "ErrorCode": text},
    ),
    "sms": ("/twilio/sms", {"MessageSid": sid, "From": text, "Body": text}),
}


def _counts(db) -> tuple[int, ...]:
    with db.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Delivery, Sighting, Participant, VerificationCode)
        )


@pytest.mark.parametrize("name", sorted(WEBHOOKS))
def test_signed_webhooks_never_fail_on_generated_values(name, live_app, fake_twilio, db):
    path, fields = WEBHOOKS[name]
    wave = seed_wave(db, [NUMBER])
    delivery_id = wave.deliveries[NUMBER]
    query = st.one_of(st.just(str(delivery_id)), st.sampled_from(ODD))

    @given(values=st.fixed_dictionaries(fields), delivery=query, step=st.sampled_from(["", "1", "²", "x"]))
    def check(values, delivery, step):
        params = {
            "AccountSid": fake_twilio.account_sid,
            "To": OUR_NUMBER,
            "ApiVersion": "2010-04-01",
            **values,
        }
        url = live_app.url(path) + f"?delivery={delivery}&step={step}"
        before = _counts(db)
        response = fake_twilio.post_webhook(url, params, expect_ok=False)
        assert response.status_code < 500, (url, params, response.text[:200])
        if response.status_code >= 400:
            assert _counts(db) == before

    check()
