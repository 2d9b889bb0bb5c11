"""The dialer's own worker driving Twilio: it claims the rows, paces them under the trunk's
calls-per-second, places the calls through the Twilio backend and hands SMS and email to the
real senders; Twilio's callbacks land on the rows. When the action ends, the outcome message
(afloopbericht) reaches everyone who was reached, on their own channel."""

from __future__ import annotations

import email
from email import policy

from sqlalchemy import select
from twilio_seed import participant_with_number, seed_wave

from actions.end import end_action, plan_outcome_messages
from config.settings import SmtpSettings
from db.models import Action, Channel, Delivery, DeliveryState, PhoneKind, Trunk
from dialer.backends.twilio import TwilioCallBackend
from dialer.worker import DialerWorker
from messaging.senders import senders_from_settings

VOICE = ["+31612300001", "+31612300002", "+31612300003"]
SMS = "+31612300009"
MAIL = "jan@example.nl"


def rows(db, **where) -> list[Delivery]:
    with db.session() as s:
        query = select(Delivery).order_by(Delivery.id)
        for column, value in where.items():
            query = query.where(getattr(Delivery, column) == value)
        return list(s.scalars(query))


def tick_until(worker, clock, done, limit=20):
    for _ in range(limit):
        worker.tick()
        if done():
            return
        clock.advance(1.0)
    states = [(d.channel.value, d.state.value, d.hangup_cause) for d in rows(worker.db)]
    raise AssertionError(f"the worker did not get there: {states}")


def test_wave_and_outcome_message_on_every_channel(
    db, clock, twilio_settings, live_app, fake_twilio, smtp_server
):
    twilio_settings.smtp = SmtpSettings(host="127.0.0.1", port=smtp_server.port)
    wave = seed_wave(db, VOICE)
    with db.transaction() as s:
        sms_person = participant_with_number(s, SMS, channels=("sms",))
        mail_person = participant_with_number(s, "+31612300010", channels=("email",), email=MAIL)
        s.add_all(
            [
                Delivery(
                    action_id=wave.action_id,
                    participant_id=sms_person.id,
                    channel=Channel.SMS,
                    target=SMS,
                    phone_kind=PhoneKind.MOBILE,
                    rank=10,
                ),
                Delivery(
                    action_id=wave.action_id,
                    participant_id=mail_person.id,
                    channel=Channel.EMAIL,
                    target=MAIL,
                    rank=11,
                ),
            ]
        )
        # The Twilio account allows 2 calls a second: the trunk carries that limit.
        s.add(Trunk(name="twilio", backend="twilio", max_channels=10, cps=2.0, prefix_caps={}))

    backend = TwilioCallBackend(twilio_settings)
    worker = DialerWorker(
        db,
        backend,
        clock,
        twilio_settings,
        senders=senders_from_settings(twilio_settings),
        worker_id="test-worker",
    )
    worker.start()
    tick_until(worker, clock, lambda: all(d.provider_id for d in rows(db)))
    assert len(fake_twilio.calls) == 3
    assert {d.state for d in rows(db, channel=Channel.VOICE)} == {DeliveryState.DIALING}

    # Twilio reports; the participants listen and confirm.
    for number in VOICE:
        (call,) = fake_twilio.calls_to(number)
        fake_twilio.ring(call.sid)
        fake_twilio.answer(call.sid)
        fake_twilio.press(call.sid, "3")
    voice = rows(db, channel=Channel.VOICE)
    assert [(d.state, d.acknowledged) for d in voice] == [(DeliveryState.COMPLETED, True)] * 3

    (sms,) = rows(db, channel=Channel.SMS)
    assert sms.state is DeliveryState.SENT and sms.provider == "twilio"
    fake_twilio.message_status(sms.provider_id, "delivered")
    assert rows(db, channel=Channel.SMS)[0].state is DeliveryState.DELIVERED
    (mail,) = rows(db, channel=Channel.EMAIL)
    assert mail.state is DeliveryState.SENT and mail.provider == "smtp"
    assert smtp_server.envelopes[-1].rcpt_tos == [MAIL]

    # The action ends with an outcome; the afloopbericht goes out on the same channels.
    with db.session() as s:
        action = s.get(Action, wave.action_id)
        end_action(s, action, None, "found", "", clock, twilio_settings)
        assert plan_outcome_messages(s, action, clock, twilio_settings) == 5
    clock.advance(1.0)
    tick_until(worker, clock, lambda: all(d.provider_id for d in rows(db, kind="outcome")))
    outcome_calls = [c for c in fake_twilio.calls.values() if "/twilio/voice/outcome" in (c.url or "")]
    assert len(outcome_calls) == 3
    call = outcome_calls[0]
    fake_twilio.answer(call.sid)
    # The shared outcome flow: the message once, then an offer to hear it again.
    assert not call.ended and len(call.heard) == 2
    spoken = call.heard[0].lower()
    assert "burgernet" in spoken
    fake_twilio.gather_timeout(call.sid)
    assert call.ended and len(call.heard) == 3

    texts = [m for m in fake_twilio.messages.values() if m.to == SMS]
    assert len(texts) == 2 and texts[0].body != texts[1].body  # the alert, then the outcome
    mails = [email.message_from_bytes(e.content, policy=policy.default) for e in smtp_server.envelopes]
    assert len(mails) == 2 and mails[0]["Subject"] != mails[1]["Subject"]
    worker.stop()
