"""Every Twilio webhook checks X-Twilio-Signature: missing, forged and replayed are refused."""

from __future__ import annotations

import logging

import pytest
import requests
from sqlalchemy import select
from twilio_seed import OUR_NUMBER, seed_wave

from db.models import Delivery, DeliveryEvent, DeliveryState
from deliveries.states import transition
from web import twilio_hooks

NUMBER = "+31612345678"


def status_params(fake, sid="CA" + "a" * 32, status="ringing", seq="1") -> dict:
    return {
        "AccountSid": fake.account_sid,
        "CallSid": sid,
        "CallStatus": status,
        "From": OUR_NUMBER,
        "To": NUMBER,
        "Direction": "outbound-api",
        "SequenceNumber": seq,
        "ApiVersion": "2010-04-01",
    }


@pytest.fixture
def dialing(db, clock):
    wave = seed_wave(db, [NUMBER])
    delivery_id = wave.deliveries[NUMBER]
    with db.transaction() as s:
        transition(s, s.get(Delivery, delivery_id), DeliveryState.DIALING, event="test.dial", clock=clock)
    return delivery_id


ENDPOINTS = [
    "/twilio/call-status?delivery=1",
    "/twilio/amd?delivery=1",
    "/twilio/voice/callback",
    "/twilio/callback-status",
    "/twilio/recording",
    "/twilio/message-status?delivery=1",
    "/twilio/sms",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_missing_signature_is_refused_everywhere(live_app, fake_twilio, path, caplog):
    caplog.set_level(logging.WARNING)
    response = fake_twilio.post_webhook(
        live_app.url(path), status_params(fake_twilio), signature=None, expect_ok=False
    )
    assert response.status_code == 403
    assert "twilio.webhook.unsigned" in caplog.text


@pytest.mark.parametrize("path", ENDPOINTS)
def test_forged_signature_is_refused_everywhere(live_app, fake_twilio, path, caplog):
    caplog.set_level(logging.WARNING)
    params = status_params(fake_twilio)
    forged = fake_twilio.sign(live_app.url(path), {**params, "CallStatus": "completed"})
    response = fake_twilio.post_webhook(live_app.url(path), params, signature=forged, expect_ok=False)
    assert response.status_code == 403
    assert "twilio.webhook.forged" in caplog.text


def test_signature_of_another_account_is_refused(live_app, fake_twilio):
    from twilio.request_validator import RequestValidator

    url = live_app.url("/twilio/sms")
    params = {"From": NUMBER, "Body": "STOP"}
    other = RequestValidator("someone-elses-token").compute_signature(url, params)
    assert fake_twilio.post_webhook(url, params, signature=other, expect_ok=False).status_code == 403


def test_a_signed_callback_lands_and_its_replay_is_refused(live_app, fake_twilio, dialing, db, caplog):
    caplog.set_level(logging.WARNING)
    url = live_app.url(f"/twilio/call-status?delivery={dialing}")
    params = status_params(fake_twilio)
    assert fake_twilio.post_webhook(url, params).status_code == 200
    replay = fake_twilio.post_webhook(url, params, expect_ok=False)
    assert replay.status_code == 403
    assert "twilio.webhook.replayed" in caplog.text
    with db.session() as s:
        assert s.get(Delivery, dialing).state is DeliveryState.RINGING
        ringing = s.scalars(
            select(DeliveryEvent).where(
                DeliveryEvent.delivery_id == dialing, DeliveryEvent.to_state == "ringing"
            )
        ).all()
        assert len(ringing) == 1


def test_the_same_status_delivered_twice_counts_once(live_app, fake_twilio, dialing, db):
    """Twilio may report one status twice (a retried delivery has a new SequenceNumber, so it is
    no replay): the second report changes nothing."""
    url = live_app.url(f"/twilio/call-status?delivery={dialing}")
    sid = "CA" + "b" * 32
    for status, seq in [
        ("ringing", "1"),
        ("in-progress", "2"),
        ("in-progress", "3"),
        ("ringing", "4"),
        ("completed", "5"),
        ("completed", "6"),
    ]:
        fake_twilio.post_webhook(url, status_params(fake_twilio, sid, status, seq))
    with db.session() as s:
        delivery = s.get(Delivery, dialing)
        assert delivery.state is DeliveryState.COMPLETED
        assert delivery.provider_id == sid
        moves = [
            (e.from_state, e.to_state)
            for e in s.scalars(
                select(DeliveryEvent).where(DeliveryEvent.delivery_id == dialing).order_by(DeliveryEvent.id)
            )
        ]
        assert moves == [
            ("queued", "dialing"),
            ("dialing", "ringing"),
            ("ringing", "answered"),
            ("answered", "completed"),
        ]


def test_signature_is_checked_against_the_public_url_behind_a_proxy(live_app, fake_twilio, dialing):
    """Twilio signs the URL it called (the proxy's public https address), not the address
    this process listens on."""
    public = "https://burgernet.example.nl"
    live_app.app.extensions["burgernet.settings"].twilio.public_base_url = public
    path = f"/twilio/call-status?delivery={dialing}"
    params = status_params(fake_twilio)
    signed_public = fake_twilio.sign(public + path, params)
    signed_local = fake_twilio.sign(live_app.url(path), params)
    assert (
        fake_twilio.post_webhook(
            live_app.url(path), params, signature=signed_local, expect_ok=False
        ).status_code
        == 403
    )
    assert fake_twilio.post_webhook(live_app.url(path), params, signature=signed_public).status_code == 200


def test_validation_can_be_switched_off_in_a_testing_app_only(live_app, fake_twilio, dialing, caplog):
    settings = live_app.app.extensions["burgernet.settings"]
    settings.twilio.validate_signatures = False
    url = live_app.url(f"/twilio/call-status?delivery={dialing}")
    live_app.app.testing = False
    caplog.set_level(logging.WARNING)
    assert requests.post(url, data=status_params(fake_twilio), timeout=10).status_code == 403
    assert "twilio.webhook.validation_forced" in caplog.text
    live_app.app.testing = True
    assert requests.post(url, data=status_params(fake_twilio), timeout=10).status_code == 200


def test_receipts_older_than_the_replay_window_are_forgotten(db, clock):
    from datetime import timedelta

    from db.models import WebhookReceipt
    from web.twilio_hooks import purge_receipts

    now = clock.now()
    with db.transaction() as s:
        s.add_all(
            [
                WebhookReceipt(
                    provider="twilio", request_hash="a" * 64, path="/x", received_at=now - timedelta(days=2)
                ),
                WebhookReceipt(
                    provider="twilio", request_hash="b" * 64, path="/x", received_at=now - timedelta(hours=1)
                ),
            ]
        )
    with db.transaction() as s:
        assert purge_receipts(s, now, 86400) == 1
    with db.session() as s:
        assert [r.request_hash for r in s.scalars(select(WebhookReceipt))] == ["b" * 64]


def test_a_request_that_failed_here_may_be_retried(live_app, fake_twilio, dialing, db, monkeypatch):
    """A signed request we could not handle (an error on our side) is not remembered: Twilio's
    retry of the very same request is applied, not refused as a replay."""
    real = twilio_hooks.apply_call_event
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(twilio_hooks, "apply_call_event", fails_once)
    url = live_app.url(f"/twilio/call-status?delivery={dialing}")
    params = status_params(fake_twilio)
    assert fake_twilio.post_webhook(url, params, expect_ok=False).status_code == 500
    assert fake_twilio.post_webhook(url, params).status_code == 200
    with db.session() as s:
        assert s.get(Delivery, dialing).state is DeliveryState.RINGING
    assert fake_twilio.post_webhook(url, params, expect_ok=False).status_code == 403


@pytest.mark.parametrize("recording_sid", ["", "RE123", "../../etc/passwd", "RE" + "g" * 32])
def test_a_recording_callback_without_a_valid_sid_is_a_client_error(live_app, fake_twilio, recording_sid):
    """Twilio retries a 5xx; a RecordingSid that can never be fetched is refused with a 4xx."""
    params = {**status_params(fake_twilio), "RecordingStatus": "completed", "RecordingSid": recording_sid}
    response = fake_twilio.post_webhook(live_app.url("/twilio/recording"), params, expect_ok=False)
    assert response.status_code == 400
