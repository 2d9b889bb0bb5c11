"""A validly signed Twilio webhook is processed at most once, whatever its body's encoding.

X-Twilio-Signature covers the URL and the sorted, de-duplicated name+value concatenation of the
parameters, so a replayed request may be re-encoded without breaking its signature: `&=`
appended, a parameter repeated, or a name split differently (`ApiVersio=n2010-04-01`). The
receipt is keyed on what the signature covers, so every such variant is a replay (issue 15,
finding 1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from sqlalchemy import func, select
from twilio_seed import AUTH_TOKEN, OUR_NUMBER, seed_wave
from werkzeug.datastructures import MultiDict

from db.models import Delivery, DeliveryState, Participant, VerificationCode, WebhookReceipt
from deliveries.states import transition
from messaging.twilio_account import signed_content
from web.twilio_hooks import receipt_digest

NUMBER = "+31612345678"
NEWCOMER = "+31687650002"


def _params(fake, **extra) -> dict:
    return {
        "AccountSid": fake.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + "c" * 32,
        "CallStatus": "ringing",
        "From": NUMBER,
        "To": OUR_NUMBER,
        "SequenceNumber": "1",
        **extra,
    }


def _variants(body: str, params: dict) -> dict[str, str]:
    """The same signed event, encoded differently (the first is the byte-for-byte replay)."""
    repeated = "From=" + quote(params["From"])
    assert "ApiVersion=2010-04-01" in body
    return {
        "byte-for-byte": body,
        "empty pair appended": body + "&=",
        "parameter repeated": body + "&" + repeated,
        "name split differently": body.replace("ApiVersion=2010-04-01", "ApiVersio=n2010-04-01"),
        "all at once": body.replace("ApiVersion=2010-04-01", "ApiVersio=n2010-04-01")
        + "&"
        + repeated
        + "&=&=",
    }


def test_the_signed_content_is_what_the_validator_signs(fake_twilio):
    """signed_content is Twilio's own canonical string: the HMAC of it is the signature."""
    url = "https://burgernet.example.nl/twilio/sms?x=1"
    params = MultiDict([("b", "2"), ("a", "1"), ("b", "2"), ("b", "0"), ("", "")])
    content = signed_content(url, params.items(multi=True))
    assert content == url + "a1b0b2"
    mac = hmac.new(AUTH_TOKEN.encode(), content.encode(), hashlib.sha1).digest()
    assert base64.b64encode(mac).decode() == fake_twilio.sign(url, params)
    # The validator accepts the URL with or without its default port: one key for both.
    assert signed_content("https://burgernet.example.nl:443/twilio/sms?x=1", []) == url


def test_every_variant_has_the_key_of_the_original():
    url = "https://burgernet.example.nl/twilio/call-status?delivery=1"
    params = {"ApiVersion": "2010-04-01", "From": NUMBER, "CallSid": "CA1"}
    original = receipt_digest(url, params.items())
    for body in _variants(urlencode(params), params).values():
        assert receipt_digest(url, parse_qsl(body, keep_blank_values=True)) == original


@pytest.fixture
def dialing(db, clock):
    wave = seed_wave(db, [NUMBER])
    delivery_id = wave.deliveries[NUMBER]
    with db.transaction() as s:
        transition(s, s.get(Delivery, delivery_id), DeliveryState.DIALING, event="test.dial", clock=clock)
    return delivery_id


ENDPOINTS = {
    "call-status": ("/twilio/call-status?delivery={d}", {}),
    "amd": ("/twilio/amd?delivery={d}", {"AnsweredBy": "human", "CallStatus": "in-progress"}),
    "voice": ("/twilio/voice/callback", {"CallStatus": "in-progress", "Direction": "inbound"}),
    "callback-status": ("/twilio/callback-status", {"CallStatus": "completed", "Direction": "inbound"}),
    "recording": ("/twilio/recording", {"RecordingStatus": "in-progress", "RecordingSid": "RE" + "1" * 32}),
    "message-status": ("/twilio/message-status?delivery={d}", {"MessageStatus": "sent"}),
    "sms": ("/twilio/sms", {"Body": "Wat is dit?", "MessageSid": "SM" + "2" * 32}),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_no_re_encoding_of_a_signed_request_is_accepted_again(
    live_app, fake_twilio, dialing, db, endpoint, caplog
):
    caplog.set_level(logging.WARNING)
    path, extra = ENDPOINTS[endpoint]
    url = live_app.url(path.format(d=dialing))
    params = _params(fake_twilio, **extra)
    signature = fake_twilio.sign(url, params)
    body = urlencode(params)
    first = fake_twilio.post_raw_webhook(url, body, signature)
    assert first.status_code < 400, first.text
    for name, variant in _variants(body, params).items():
        response = fake_twilio.post_raw_webhook(url, variant, signature)
        assert response.status_code == 403, name
    assert caplog.text.count("twilio.webhook.replayed") == len(_variants(body, params))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookReceipt)) == 1


def test_a_replayed_sms_sign_up_creates_no_second_code_or_reply(live_app, fake_twilio, db):
    url = live_app.url("/twilio/sms")
    params = _params(
        fake_twilio,
        From=NEWCOMER,
        Body="BURGERNET 2611AB 12 1980",
        MessageSid="SM" + "3" * 32,
        SmsStatus="received",
    )
    del params["CallSid"], params["CallStatus"], params["SequenceNumber"]
    signature = fake_twilio.sign(url, params)
    body = urlencode(params)
    first = fake_twilio.post_raw_webhook(url, body, signature)
    assert first.status_code == 200 and "Welkom bij Burgernet" in first.text
    for name, variant in _variants(body, params).items():
        replay = fake_twilio.post_raw_webhook(url, variant, signature)
        assert replay.status_code == 403, name
        assert "<Message>" not in replay.text and "Welkom" not in replay.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == 1
        assert s.scalar(select(func.count()).select_from(VerificationCode)) == 1


def test_a_new_event_with_the_same_ids_is_no_replay(live_app, fake_twilio, dialing):
    """Twilio's next report of the same call differs in what is signed (status, sequence)."""
    url = live_app.url(f"/twilio/call-status?delivery={dialing}")
    assert fake_twilio.post_webhook(url, _params(fake_twilio)).status_code == 200
    later = _params(fake_twilio, CallStatus="in-progress", SequenceNumber="2")
    assert fake_twilio.post_webhook(url, later).status_code == 200
