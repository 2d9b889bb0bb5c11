"""SMS sign-up parses the sender's `From` as a participant's phone number and refuses what is
no such number, instead of storing it raw (issue 15, finding 7)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from twilio_seed import OUR_NUMBER

from db.models import Participant, PhoneKind, PhoneNumber, VerificationCode

SIGN_UP = "BURGERNET 2611AB 12 1980"


def sms_url(live_app) -> str:
    return live_app.url("/twilio/sms")


@pytest.mark.parametrize(
    "sender",
    [
        "Vodafone",  # an alphanumeric sender id
        "1234",  # a short code
        "+3161",  # too short
        "+31612345678<script>",
        "+31900123456",  # premium rate
        "+319701234567",  # machine-to-machine
        "",
    ],
)
def test_a_sign_up_from_no_valid_number_stores_nothing_and_gets_no_reply(
    db, fake_twilio, live_app, sender, caplog
):
    caplog.set_level(logging.WARNING)
    if sender == "":
        params = {"AccountSid": fake_twilio.account_sid, "From": "", "To": OUR_NUMBER, "Body": SIGN_UP}
        response = fake_twilio.post_webhook(sms_url(live_app), params, expect_ok=False)
        assert response.status_code == 400
    else:
        assert fake_twilio.incoming_sms(sender, OUR_NUMBER, SIGN_UP, sms_url(live_app)) == []
        assert "sms.sender_refused" in caplog.text
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == 0
        assert s.scalar(select(func.count()).select_from(PhoneNumber)) == 0
        assert s.scalar(select(func.count()).select_from(VerificationCode)) == 0


def test_a_stop_from_no_valid_number_is_ignored(db, fake_twilio, live_app):
    assert fake_twilio.incoming_sms("Vodafone", OUR_NUMBER, "STOP", sms_url(live_app)) == []


@pytest.mark.parametrize(
    ("sender", "e164", "kind"),
    [
        ("+31687650002", "+31687650002", PhoneKind.MOBILE),
        ("0687650002", "+31687650002", PhoneKind.MOBILE),  # national notation
        ("0031 6 8765 0002", "+31687650002", PhoneKind.MOBILE),
    ],
)
def test_the_sender_is_stored_as_its_e164_number(db, fake_twilio, live_app, sender, e164, kind):
    replies = fake_twilio.incoming_sms(sender, OUR_NUMBER, SIGN_UP, sms_url(live_app))
    assert "Welkom bij Burgernet" in replies[0]
    with db.session() as s:
        phone = s.scalars(select(PhoneNumber)).one()
        assert (phone.e164, phone.kind, phone.verified) == (e164, kind, False)
        assert s.scalars(select(VerificationCode)).one().target == e164
