"""Call-status callbacks read their delivery once, locked: an unknown delivery is 404, and a
callback of an earlier call of the delivery (a retry has a new CallSid) changes nothing."""

from __future__ import annotations

import pytest

from db.models import (
    Channel,
    Delivery,
    DeliveryState,
)
from tests.support.seed import running_action


@pytest.fixture
def twilio_client(app):
    settings = app.extensions["burgernet.settings"]
    settings.phone_backend = "twilio"
    settings.twilio.validate_signatures = False  # a testing app only: signatures have their own tests
    return app.test_client()


def _dialing(db, call_sid: str) -> int:
    with db.transaction() as s:
        action = running_action(s)
        delivery = Delivery(
            action_id=action.id,
            channel=Channel.VOICE,
            target="+31612345678",
            state=DeliveryState.DIALING,
            attempts=2,
            provider="twilio",
            provider_id=call_sid,
        )
        s.add(delivery)
        s.flush()
        return delivery.id


def _status(client, delivery_id: int, call_sid: str, status: str):
    form = {"CallSid": call_sid, "CallStatus": status, "AccountSid": "AC" + "0" * 32}
    return client.post(f"/twilio/call-status?delivery={delivery_id}", data=form)


def test_a_callback_of_an_earlier_call_changes_nothing(twilio_client, db):
    delivery_id = _dialing(db, "CA-second-attempt")
    assert _status(twilio_client, delivery_id, "CA-first-attempt", "busy").status_code == 200
    with db.session() as s:
        assert s.get(Delivery, delivery_id).state == DeliveryState.DIALING
    assert _status(twilio_client, delivery_id, "CA-second-attempt", "ringing").status_code == 200
    with db.session() as s:
        assert s.get(Delivery, delivery_id).state == DeliveryState.RINGING


def test_a_callback_for_an_unknown_delivery_is_404(twilio_client, db):
    delivery_id = _dialing(db, "CA-1")
    assert _status(twilio_client, delivery_id + 1000, "CA-1", "ringing").status_code == 404
