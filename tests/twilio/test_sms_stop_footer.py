"""The STOP footer of every alert SMS names the number that handles STOP (issue 16): the
number the SMS comes from, whose inbound texts reach /twilio/sms. A participant who texts
STOP to the number in the text is opted out."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from sqlalchemy import select
from twilio_seed import OUR_NUMBER, seed_wave

from config.settings import Settings, TwilioSettings
from db.models import Action, Channel, ControlRoom, Delivery, DeliveryState, Participant, ParticipantStatus
from deliveries.message_sender import OutgoingMessage
from deliveries.states import transition
from messaging.twilio_sms import TwilioSmsSender
from prompts.callback_number import callback_number_for, sender_for, stop_number
from prompts.messages import compose_alert

NUMBER = "+31612340001"
STOP_FOOTER = re.compile(r"Stop\? Sms STOP naar (\S+)\.$")


def _e164(national: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(national, "NL"), phonenumbers.PhoneNumberFormat.E164)


def test_texting_stop_to_the_number_in_the_sms_opts_out(db, clock, twilio_settings, fake_twilio, live_app):
    wave = seed_wave(db, [NUMBER], channel=Channel.SMS)
    with db.transaction() as s:
        action = s.get(Action, wave.action_id)
        room = s.get(ControlRoom, action.control_room_id)
        action.sms_text = compose_alert(
            "suspect",
            {"gender": "male", "age": "30", "clothing": "rode jas", "direction": "richting het station"},
            "",
            callback_number_for(room, twilio_settings.callback_number),
            sender=sender_for(room, twilio_settings),
        ).sms
        delivery = s.get(Delivery, wave.deliveries[NUMBER])
        transition(s, delivery, DeliveryState.SENDING, event="dialer.claimed", clock=clock)
        result = TwilioSmsSender(twilio_settings).send(
            OutgoingMessage(channel="sms", to=NUMBER, text=action.sms_text, delivery_id=delivery.id)
        )
    sent = fake_twilio.messages[result.provider_id]
    assert sent.body.startswith(
        "Burgernet (Meldkamer Haaglanden): kijk uit naar een man van ongeveer 30 jaar"
    )
    stop_to = _e164(STOP_FOOTER.search(sent.body).group(1))
    assert stop_to == sent.from_ == OUR_NUMBER

    replies = fake_twilio.incoming_sms(NUMBER, stop_to, "Stop?", live_app.url("/twilio/sms"))
    assert replies and "afgemeld" in replies[0]
    with db.session() as s:
        person = s.scalars(select(Participant).where(Participant.id == wave.participants[NUMBER])).one()
        assert person.status is ParticipantStatus.OPTED_OUT


@pytest.mark.parametrize(
    "messaging_from, from_number, expected",
    [
        ("+3197010200300", "+31851234567", "097010200300"),  # the SMS sender takes the replies
        ("MG0123456789abcdef0123456789abcdef", "+31851234567", "0851234567"),  # a service: the number
        ("Burgernet", "+31851234567", "0851234567"),  # an alphanumeric sender cannot be answered
        ("", "", ""),  # training mode: the text says "naar dit nummer"
    ],
)
def test_the_stop_number_is_one_that_can_be_answered(messaging_from, from_number, expected):
    settings = Settings(
        _env_file=None, twilio=TwilioSettings(messaging_from=messaging_from, from_number=from_number)
    )
    assert stop_number(settings) == expected
    sms = compose_alert(
        "other", {"subject": "loslopend paard"}, "", "0800-0011", sender=sender_for(None, settings)
    )
    assert sms.sms.endswith(f"Stop? Sms STOP naar {expected or 'dit nummer'}.")
