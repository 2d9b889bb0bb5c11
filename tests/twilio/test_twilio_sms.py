"""SMS through Twilio Messages: sending, delivery reports, STOP, and the sign-up keyword."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from twilio_seed import ACCOUNT_SID, OUR_NUMBER, participant_with_number, seed_wave

from db.models import (
    AuditEvent,
    Channel,
    Delivery,
    DeliveryState,
    GazetteerAddress,
    GeocodeStatus,
    Participant,
    ParticipantStatus,
    PhoneNumber,
)
from deliveries.message_sender import OutgoingMessage, SendError
from deliveries.message_status import apply_message_status
from deliveries.states import transition
from messaging.inbound_sms import (
    ConfirmCode,
    Invalid,
    SignUp,
    Stop,
    Unknown,
    parse_inbound,
)
from messaging.twilio_sms import TwilioSmsSender

NUMBER = "+31612340001"
NEWCOMER = "+31687650002"


def sms_url(live_app) -> str:
    return live_app.url("/twilio/sms")


@pytest.fixture
def sms_wave(db, live_app):
    return seed_wave(db, [NUMBER], channel=Channel.SMS)


def send_as_dialer(db, clock, settings, delivery_id) -> str:
    """What the dialer does with an SMS row: claim it, hand it to the sender, mark it sent."""
    with db.transaction() as s:
        transition(
            s, s.get(Delivery, delivery_id), DeliveryState.SENDING, event="dialer.claimed", clock=clock
        )
    with db.transaction() as s:
        row = s.get(Delivery, delivery_id)
        result = TwilioSmsSender(settings).send(
            OutgoingMessage(channel="sms", to=row.target, text=row.action.sms_text, delivery_id=row.id)
        )
        transition(s, row, DeliveryState.SENT, event="message.sent", clock=clock)
        row.provider, row.provider_id = result.provider, result.provider_id
    return result.provider_id


def test_an_sms_goes_out_with_a_status_callback(db, clock, twilio_settings, fake_twilio, live_app, sms_wave):
    delivery_id = sms_wave.deliveries[NUMBER]
    sid = send_as_dialer(db, clock, twilio_settings, delivery_id)
    message = fake_twilio.messages[sid]
    assert (message.to, message.from_) == (NUMBER, OUR_NUMBER)
    assert message.body == "Burgernet: kijk uit naar een man met rode jas."
    assert message.status_callback == live_app.url(f"/twilio/message-status?delivery={delivery_id}")
    assert fake_twilio.requests[-1][:2] == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")


def test_delivery_reports_land_and_count_once(db, clock, twilio_settings, fake_twilio, live_app, sms_wave):
    delivery_id = sms_wave.deliveries[NUMBER]
    sid = send_as_dialer(db, clock, twilio_settings, delivery_id)
    fake_twilio.message_status(sid, "sending")
    fake_twilio.message_status(sid, "sent")
    fake_twilio.message_status(sid, "delivered")
    replay = fake_twilio.post_webhook(
        fake_twilio.messages[sid].status_callback,
        {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "delivered",
            "MessageStatus": "delivered",
            "From": OUR_NUMBER,
            "To": NUMBER,
        },
        expect_ok=False,
    )
    assert replay.status_code == 403  # the exact same report again is a replay
    with db.session() as s:
        row = s.get(Delivery, delivery_id)
        assert row.state is DeliveryState.DELIVERED
        assert row.finished_at is not None


def test_an_undelivered_sms_fails_with_the_error_code(
    db, clock, twilio_settings, fake_twilio, live_app, sms_wave
):
    delivery_id = sms_wave.deliveries[NUMBER]
    sid = send_as_dialer(db, clock, twilio_settings, delivery_id)
    fake_twilio.message_status(sid, "undelivered", error_code="30003")
    with db.session() as s:
        row = s.get(Delivery, delivery_id)
        assert (row.state, row.hangup_cause) == (DeliveryState.FAILED, "twilio:30003")


def test_status_application_is_idempotent_and_never_goes_back(db, clock, sms_wave):
    with db.transaction() as s:
        row = s.get(Delivery, sms_wave.deliveries[NUMBER])
        assert not apply_message_status(s, row, "delivered", clock)  # queued: not with the provider
        transition(s, row, DeliveryState.SENDING, event="dialer.claimed", clock=clock)
        row.provider_id = "SM1"
        assert apply_message_status(
            s, row, "delivered", clock, message_sid="SM1"
        )  # sending -> sent -> delivered
        assert not apply_message_status(s, row, "delivered", clock, message_sid="SM1")
        assert not apply_message_status(s, row, "sent", clock, message_sid="SM1")
        assert not apply_message_status(s, row, "failed", clock, message_sid="SM1")
        assert not apply_message_status(s, row, "queued", clock, message_sid="SM1")
        assert row.state is DeliveryState.DELIVERED
    with pytest.raises(ValueError, match="unknown Twilio MessageStatus"), db.transaction() as s:
        apply_message_status(s, s.get(Delivery, sms_wave.deliveries[NUMBER]), "vanished", clock)


def test_a_report_for_another_message_is_ignored(db, clock, sms_wave):
    with db.transaction() as s:
        row = s.get(Delivery, sms_wave.deliveries[NUMBER])
        row.provider_id = "SM-current"
        assert not apply_message_status(s, row, "delivered", clock, message_sid="SM-old")
        assert row.state is DeliveryState.QUEUED


def test_refused_numbers_and_empty_texts_are_permanent_errors(twilio_settings, fake_twilio):
    sender = TwilioSmsSender(twilio_settings)
    with pytest.raises(SendError) as err:
        sender.send(OutgoingMessage(channel="sms", to="+3161", text="hallo"))
    assert err.value.permanent and "21211" in str(err.value)
    with pytest.raises(SendError) as err:
        sender.send(OutgoingMessage(channel="sms", to=NUMBER, text="  "))
    assert err.value.permanent
    with pytest.raises(SendError) as err:
        sender.send(OutgoingMessage(channel="email", to="a@b.nl", text="x", subject="y"))
    assert err.value.permanent
    assert not fake_twilio.messages


def test_unconfigured_sender_is_a_clear_error(settings):
    with pytest.raises(SendError, match="not configured"):
        TwilioSmsSender(settings).send(OutgoingMessage(channel="sms", to=NUMBER, text="x"))


# --- inbound: parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", " Stoppen ", "AFMELDEN", "uitschrijven", "Stop Burgernet", "UNSUBSCRIBE", "opzeggen."],
)
def test_stop_words(body):
    assert parse_inbound(body, "BURGERNET", 2026) == Stop()


@pytest.mark.parametrize(
    "body,expected",
    [
        ("BURGERNET 2611AB 12 1980", SignUp("2611AB", 12, "", 1980)),
        ("burgernet 2611 ab 12 1980", SignUp("2611AB", 12, "", 1980)),
        ("Burgernet 2611AB 12a 1975", SignUp("2611AB", 12, "A", 1975)),
        ("BURGERNET 2611AB 12 A 1975", SignUp("2611AB", 12, "A", 1975)),
        ("BURGERNET 2611AB 12-2 2001", SignUp("2611AB", 12, "2", 2001)),
        ("JA 123456", ConfirmCode("123456")),
        ("code 4821", ConfirmCode("4821")),
        ("Hallo, ik zag iets", Unknown()),
    ],
)
def test_inbound_commands(body, expected):
    assert parse_inbound(body, "BURGERNET", 2026) == expected


@pytest.mark.parametrize(
    "body,why",
    [
        ("BURGERNET", "Stuur: BURGERNET postcode huisnummer geboortejaar"),
        ("BURGERNET 2611AB 12", "geboortejaar"),
        ("BURGERNET 0611AB 12 1980", "postcode 0611AB is niet geldig"),
        ("BURGERNET 2611AB twaalf 1980", "huisnummer"),
        ("BURGERNET 2611AB 12 1850", "geboortejaar 1850 is niet geldig"),
        ("BURGERNET 2611AB 12 2015", "minimaal 16 jaar"),
    ],
)
def test_invalid_sign_ups_get_a_dutch_explanation(body, why):
    result = parse_inbound(body, "BURGERNET", 2026)
    assert isinstance(result, Invalid) and why in result.reply


# --- inbound: through the webhook --------------------------------------------------------------


def test_stop_opts_out_and_cancels_what_is_queued(db, fake_twilio, live_app, sms_wave):
    replies = fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, "Stoppen", sms_url(live_app))
    assert replies and "afgemeld" in replies[0]
    with db.session() as s:
        participant = s.get(Participant, sms_wave.participants[NUMBER])
        assert participant.status is ParticipantStatus.OPTED_OUT
        assert s.get(Delivery, sms_wave.deliveries[NUMBER]).state is DeliveryState.OPTED_OUT
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "participant.opted_out")).one()
        assert audit.detail["via"] == "sms" and audit.target_id == participant.id
    # A second STOP changes nothing more.
    fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, "STOP", sms_url(live_app))
    with db.session() as s:
        assert (
            len(s.scalars(select(AuditEvent).where(AuditEvent.event == "participant.opted_out")).all()) == 1
        )


def test_sign_up_by_keyword_then_confirm_with_the_code(db, fake_twilio, live_app):
    with db.transaction() as s:
        s.add(
            GazetteerAddress(
                postcode="2611AB",
                house_number=12,
                street="Markt",
                city="Delft",
                municipality="Delft",
                lat=52.0116,
                lon=4.3571,
            )
        )
    replies = fake_twilio.incoming_sms(NEWCOMER, OUR_NUMBER, "BURGERNET 2611 AB 12 1980", sms_url(live_app))
    assert "Welkom bij Burgernet" in replies[0]
    code = re.search(r"JA (\d{6})", replies[0]).group(1)
    with db.session() as s:
        participant = s.scalars(select(Participant)).one()
        assert (participant.source, participant.channels, participant.birth_year) == ("sms", ["sms"], 1980)
        phone = participant.phones[0]
        assert (phone.e164, phone.verified) == (NEWCOMER, False)  # pending verification
        address = participant.addresses[0]
        assert (address.postcode, address.house_number) == ("2611AB", 12)
        assert (address.geocode_status, address.lat, address.municipality) == (
            GeocodeStatus.OK,
            52.0116,
            "Delft",
        )

    wrong = fake_twilio.incoming_sms(
        NEWCOMER, OUR_NUMBER, "JA 000000" if code != "000000" else "JA 111111", sms_url(live_app)
    )
    assert "klopt niet" in wrong[0]
    right = fake_twilio.incoming_sms(NEWCOMER, OUR_NUMBER, f"ja {code}", sms_url(live_app))
    assert "bevestigd" in right[0]
    with db.session() as s:
        assert s.scalars(select(PhoneNumber).where(PhoneNumber.e164 == NEWCOMER)).one().verified

    again = fake_twilio.incoming_sms(NEWCOMER, OUR_NUMBER, "BURGERNET 2611AB 12 1980", sms_url(live_app))
    assert "al aangemeld" in again[0]
    with db.session() as s:
        assert len(s.scalars(select(Participant)).all()) == 1


def test_an_underage_sign_up_creates_nobody(db, fake_twilio, live_app):
    replies = fake_twilio.incoming_sms(NEWCOMER, OUR_NUMBER, "BURGERNET 2611AB 12 2015", sms_url(live_app))
    assert "16 jaar" in replies[0]
    with db.session() as s:
        assert s.scalars(select(Participant)).all() == []


def test_an_unknown_text_gets_help(db, fake_twilio, live_app):
    replies = fake_twilio.incoming_sms(NEWCOMER, OUR_NUMBER, "Wat is dit?", sms_url(live_app))
    assert "BURGERNET 2611AB 12 1980" in replies[0] and "STOP" in replies[0]


def test_a_confirmation_without_a_pending_sign_up(db, fake_twilio, live_app):
    with db.transaction() as s:
        participant_with_number(s, NUMBER)
    replies = fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, "JA 123456", sms_url(live_app))
    assert "geen aanmelding" in replies[0]


def test_an_opted_out_participant_can_come_back_with_a_code(db, fake_twilio, live_app, sms_wave):
    fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, "STOP", sms_url(live_app))
    reply = fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, "BURGERNET 2611AB 1 1980", sms_url(live_app))[0]
    assert "afgemeld" in reply
    with db.session() as s:
        assert s.get(Participant, sms_wave.participants[NUMBER]).status is ParticipantStatus.OPTED_OUT
    code = re.search(r"JA (\d{6})", reply).group(1)
    assert "bevestigd" in fake_twilio.incoming_sms(NUMBER, OUR_NUMBER, f"JA {code}", sms_url(live_app))[0]
    with db.session() as s:
        assert s.get(Participant, sms_wave.participants[NUMBER]).status is ParticipantStatus.ACTIVE
        assert s.scalars(select(AuditEvent).where(AuditEvent.event == "participant.opted_in")).one()
