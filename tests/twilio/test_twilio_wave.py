"""A whole wave through the Twilio backend and the fake Twilio: statuses, DTMF via <Gather>,
answering machines, a transfer; then a participant phones the call-back line, records a
sighting and is put through."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from twilio_seed import CENTRALIST, OUR_NUMBER, VOICE_TEXT, seed_wave

from db.models import Delivery, DeliveryEvent, DeliveryState, HangupBy, MessageHeard, Sighting
from deliveries.call_backend import CallRequest
from deliveries.states import transition
from dialer.backends.twilio import TwilioCallBackend
from ivr.prompt_texts import prompt_text
from prompts.ivr_prompts import ivr_prompt_text
from tests.support.fake_twilio import silence_wav

ACK, BUSY, SILENT, MACHINE, TRANSFER = (f"+3161234560{i}" for i in range(1, 6))


@pytest.fixture
def said(twilio_settings):
    """What the fake hears for a fixed IVR prompt (the texts belong to the prompts package)."""
    return lambda key: "say:" + prompt_text(key, twilio_settings)


def place_calls(db, backend, clock, settings) -> dict[str, str]:
    """What the dialer does for each queued row: claim it (queued -> dialing), originate,
    keep the provider's id. Returns number -> CallSid."""
    placed = {}
    with db.transaction() as s:
        queued = s.scalars(
            select(Delivery).where(Delivery.state == DeliveryState.QUEUED).order_by(Delivery.rank)
        ).all()
        for delivery in queued:
            transition(s, delivery, DeliveryState.DIALING, event="dialer.claimed", clock=clock)
            delivery.attempts += 1
            delivery.provider = backend.name
        requests_ = [CallRequest(d.id, d.target, settings.caller_id, 30) for d in queued]
    for request in requests_:
        sid = backend.originate(request)
        with db.transaction() as s:
            s.get(Delivery, request.delivery_id).provider_id = sid
        placed[request.number] = sid
    return placed


def delivery(db, delivery_id) -> Delivery:
    with db.session() as s:
        return s.get(Delivery, delivery_id)


def events_of(db, delivery_id) -> list[str]:
    with db.session() as s:
        return [
            e.event
            for e in s.scalars(
                select(DeliveryEvent)
                .where(DeliveryEvent.delivery_id == delivery_id)
                .order_by(DeliveryEvent.id)
            )
        ]


@pytest.fixture
def wave(db, live_app):
    return seed_wave(db, [ACK, BUSY, SILENT, MACHINE, TRANSFER])


def test_a_whole_wave(db, clock, twilio_settings, live_app, fake_twilio, wave, said):
    backend = TwilioCallBackend(twilio_settings)
    backend.start(lambda event: None)
    sids = place_calls(db, backend, clock, twilio_settings)
    assert len(fake_twilio.calls) == 5

    # Every phone rings; statuses land as ringing.
    for sid in sids.values():
        fake_twilio.ring(sid)
    assert {delivery(db, d).state for d in wave.deliveries.values()} == {DeliveryState.RINGING}

    # A person answers, hears the alert, presses 1 (again), then 3 (will look out).
    ack = sids[ACK]
    fake_twilio.answer(ack, answered_by="human")
    assert fake_twilio.waiting_for(ack) == "Gather"
    assert delivery(db, wave.deliveries[ACK]).state is DeliveryState.ANSWERED
    fake_twilio.press(ack, "1")
    fake_twilio.press(ack, "3")
    call = fake_twilio.call(ack)
    assert call.ended
    assert call.heard.count("say:" + VOICE_TEXT) == 2
    # The thanks names the number of the action's control room (OUR_NUMBER), as the alert
    # text does, not the platform's global number.
    thanks = "say:" + ivr_prompt_text("confirm_thanks", twilio_settings, callback_number=OUR_NUMBER)
    assert thanks in call.heard and "nul acht vijf één twee" in thanks
    assert said("confirm_thanks") not in call.heard
    row = delivery(db, wave.deliveries[ACK])
    assert (row.state, row.acknowledged, row.menu_choices) == (DeliveryState.COMPLETED, True, "13")
    assert row.provider_id == ack and row.answered_by == "human"
    with db.session() as s:
        digits = [
            e.detail["digits"]
            for e in s.scalars(
                select(DeliveryEvent).where(
                    DeliveryEvent.delivery_id == row.id, DeliveryEvent.event == "call.dtmf"
                )
            )
        ]
        assert digits == ["1", "3"]

    # Busy and no answer: results stored, and a retry is scheduled while the action runs.
    fake_twilio.finish_unanswered(sids[BUSY], "busy")
    fake_twilio.finish_unanswered(sids[SILENT], "no-answer")
    for number, result in [(BUSY, "call.busy"), (SILENT, "call.no_answer")]:
        row = delivery(db, wave.deliveries[number])
        assert row.state is DeliveryState.QUEUED and row.next_attempt_at is not None
        assert result in events_of(db, row.id) and "retry.scheduled" in events_of(db, row.id)

    # An answering machine: the alert starts at once (asynchronous AMD); when detection says
    # "machine" after the beep, the call is redirected and the message is left in full.
    machine = sids[MACHINE]
    fake_twilio.answer(machine, answered_by="machine_end_beep")
    fake_twilio.gather_timeout(machine)  # a machine presses no key: the message plays out
    call = fake_twilio.call(machine)
    assert call.ended
    assert call.heard.count("say:" + VOICE_TEXT) == 2  # started for a person, then in full
    assert said("alert_menu") not in call.heard  # detection decided during the message
    row = delivery(db, wave.deliveries[MACHINE])
    assert row.state is DeliveryState.MACHINE and row.answered_by == "machine"
    assert "call.machine_message_left" in events_of(db, row.id)

    # Press 2: put through to the centralist who started the action.
    transfer = sids[TRANSFER]
    fake_twilio.answer(transfer)
    fake_twilio.press(transfer, "2")
    assert fake_twilio.call(transfer).dialed == [CENTRALIST]
    fake_twilio.dial_result(transfer, "completed")
    row = delivery(db, wave.deliveries[TRANSFER])
    assert row.transfer_requested and row.state is DeliveryState.COMPLETED
    with db.session() as s:
        ivr_transfer = s.scalars(
            select(DeliveryEvent).where(
                DeliveryEvent.delivery_id == row.id, DeliveryEvent.event == "ivr_transfer"
            )
        ).one()
        assert ivr_transfer.detail == {"answered": True, "status": "completed"}

    # The retries go out again as new calls and their callbacks land on the same rows.
    retry = place_calls(db, backend, clock, twilio_settings)
    assert set(retry) == {BUSY, SILENT}
    fake_twilio.ring(retry[BUSY])
    fake_twilio.answer(retry[BUSY])
    fake_twilio.press(retry[BUSY], "3")
    row = delivery(db, wave.deliveries[BUSY])
    assert (row.state, row.attempts, row.provider_id) == (DeliveryState.COMPLETED, 2, retry[BUSY])

    # A late callback of the first (busy) call changes nothing on the retried row.
    fake_twilio.calls[sids[BUSY]].ended = False
    fake_twilio.finish_unanswered(sids[BUSY], "busy")
    assert delivery(db, wave.deliveries[BUSY]).state is DeliveryState.COMPLETED


def test_gather_timeouts_run_the_menu_retries_then_goodbye(
    db, clock, twilio_settings, live_app, fake_twilio, wave, said
):
    sid = place_calls(db, TwilioCallBackend(twilio_settings), clock, twilio_settings)[ACK]
    fake_twilio.answer(sid)
    for _ in range(4):  # the alert heard out, then the menu's three chances
        fake_twilio.gather_timeout(sid)
    call = fake_twilio.call(sid)
    assert call.ended
    assert said("no_input") in call.heard
    assert call.heard[-1] == said("goodbye")


def test_the_callback_line_puts_the_caller_through_and_records_when_nobody_answers(
    db, clock, twilio_settings, live_app, fake_twilio, wave, said
):
    audio = silence_wav(2.0)
    call = fake_twilio.incoming_call(ACK, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    # "U wordt nu doorverbonden ... liever inspreken, druk dan 1": the caller waits.
    assert fake_twilio.waiting_for(call.sid) == "Gather"
    assert said("callback_welcome") in call.heard and said("callback_transfer_or_record") in call.heard
    fake_twilio.gather_timeout(call.sid)

    # Put through to the centralist of the action; nobody answers: record instead.
    assert fake_twilio.call(call.sid).dialed == [CENTRALIST]
    fake_twilio.dial_result(call.sid, "no-answer")
    assert fake_twilio.waiting_for(call.sid) == "Record"
    assert fake_twilio.call(call.sid).heard[-1] == said("callback_unreachable_record")
    recording_sid = fake_twilio.speak(call.sid, audio, duration_s=2)

    # Stored (file on disk, row committed) before the thank-you was rendered.
    assert fake_twilio.call(call.sid).ended
    assert fake_twilio.call(call.sid).heard[-2:] == [said("callback_thanks"), said("callback_saved_bye")]
    with db.session() as s:
        sighting = s.scalars(select(Sighting)).one()
        assert (sighting.action_id, sighting.participant_id) == (wave.action_id, wave.participants[ACK])
        assert sighting.delivery_id == wave.deliveries[ACK]
        assert sighting.provider == "twilio" and sighting.provider_call_id == call.sid
        assert sighting.caller_number == ACK
        stored = twilio_settings.recordings_dir / sighting.recording_path
        assert stored.read_bytes() == audio
        assert sighting.recording_path.startswith("2026/11/28/")  # filed like an Asterisk one
        assert sighting.duration_s == pytest.approx(2.0, abs=0.1)
        assert (sighting.transferred, sighting.transfer_result) == (False, "no-answer")
    assert not any((twilio_settings.instance_path / "incoming-recordings").iterdir())
    fetches = [r for r in fake_twilio.requests if r[0] == "GET"]
    assert len(fetches) == 1 and fetches[0][1].endswith(f"/Recordings/{recording_sid}.wav")


def test_a_callback_caller_who_hangs_up_in_the_menu_is_on_the_call_back_list_at_once(
    db, clock, twilio_settings, live_app, fake_twilio, wave
):
    call = fake_twilio.incoming_call(
        ACK, OUR_NUMBER, live_app.url("/twilio/voice/callback"), live_app.url("/twilio/callback-status")
    )
    assert fake_twilio.waiting_for(call.sid) == "Gather"  # put through, or press 1 to record
    fake_twilio.hangup(call.sid)
    with db.session() as s:
        sighting = s.scalars(select(Sighting)).one()
        assert (sighting.line_state, sighting.caller_number) == ("missed", ACK)
        assert sighting.ended_at == clock.now() and sighting.participant_id == wave.participants[ACK]


def test_a_callback_caller_who_presses_1_records_without_being_put_through(
    db, clock, twilio_settings, live_app, fake_twilio, wave, said
):
    call = fake_twilio.incoming_call(ACK, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    fake_twilio.press(call.sid, "1")
    assert fake_twilio.call(call.sid).heard[-1] == said("callback_record")
    fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1)
    assert fake_twilio.call(call.sid).ended and fake_twilio.call(call.sid).dialed == []
    with db.session() as s:
        sighting = s.scalars(select(Sighting)).one()
        assert sighting.recording_path and sighting.transferred is False


def test_a_recording_not_yet_available_completes_from_the_recording_callback(
    db, clock, twilio_settings, live_app, fake_twilio, wave
):
    call = fake_twilio.incoming_call(ACK, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    fake_twilio.press(call.sid, "1")
    fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1, recording_available=False)
    with db.session() as s:
        sighting = s.scalars(select(Sighting)).one()
        assert sighting.recording_path is not None
        path = twilio_settings.recordings_dir / sighting.recording_path
        assert Path(path).stat().st_size > 1000
        assert sighting.recording_path.startswith("2026/11/28/")
        assert sighting.duration_s == pytest.approx(1.0, abs=0.1)


def test_a_caller_of_the_callback_line_is_put_through_when_nobody_was_alerted(
    db, clock, twilio_settings, live_app, fake_twilio
):
    seed_wave(db, [ACK])
    stranger = "+31687654321"
    call = fake_twilio.incoming_call(stranger, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    assert fake_twilio.waiting_for(call.sid) == "Gather"  # one running action in this room
    fake_twilio.gather_timeout(call.sid)
    fake_twilio.dial_result(call.sid, "completed")
    assert fake_twilio.call(call.sid).ended
    with db.session() as s:
        sighting = s.scalars(select(Sighting)).one()
        assert sighting.participant_id is None and sighting.caller_number == stranger
        assert (sighting.transferred, sighting.recording_path) == (True, None)


def test_a_broken_flow_state_gets_a_spoken_fallback_not_dead_air(live_app, fake_twilio, db):
    url = live_app.url("/twilio/voice/alert?delivery=999")
    response = fake_twilio.post_webhook(
        url, {"CallSid": "CA" + "c" * 32, "From": OUR_NUMBER, "To": ACK, "CallStatus": "in-progress"}
    )
    assert "storing" in response.text and "<Hangup" in response.text


def test_an_unknown_flow_is_not_found(live_app, fake_twilio):
    response = fake_twilio.post_webhook(
        live_app.url("/twilio/voice/nonsense"), {"CallSid": "x"}, expect_ok=False
    )
    assert response.status_code == 404


def test_rendered_prompts_are_played_instead_of_said(db, clock, twilio_settings, live_app, fake_twilio, wave):
    """With play_rendered_audio, Twilio plays the platform's own rendering (the same voice as
    on Asterisk, or an administrator's recorded prompt) fetched from our audio route."""
    import requests as http

    twilio_settings.twilio.play_rendered_audio = True
    sid = place_calls(db, TwilioCallBackend(twilio_settings), clock, twilio_settings)[ACK]
    fake_twilio.answer(sid)
    fake_twilio.gather_timeout(sid)  # the alert heard out (no key): the menu plays next
    heard = fake_twilio.call(sid).heard
    assert heard and all(h.startswith("play:") for h in heard)
    assert heard[0] != heard[1]  # the alert text, then the menu prompt
    for item in heard[:2]:
        audio = http.get(item[len("play:") :], timeout=10)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
        assert audio.content[:4] == b"RIFF" and len(audio.content) > 8000
    assert http.get(live_app.url("/twilio/audio/" + "0" * 64 + ".wav"), timeout=10).status_code == 404
    assert http.get(live_app.url("/twilio/audio/..%2F..%2Fetc%2Fpasswd.wav"), timeout=10).status_code == 404


def test_an_unexpected_failure_in_a_flow_gets_the_spoken_fallback(
    db, clock, twilio_settings, live_app, fake_twilio, wave, monkeypatch, caplog
):
    import ivr.alert_flow

    def broken(env, ctx):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(ivr.alert_flow.ALERT_FLOW.handlers, "alert_text", broken)
    sid = place_calls(db, TwilioCallBackend(twilio_settings), clock, twilio_settings)[ACK]
    fake_twilio.answer(sid)
    call = fake_twilio.call(sid)
    assert call.ended and "storing" in call.heard[-1]
    assert "twilio.voice.failed" in caplog.text and "the database went away" in caplog.text


def test_each_row_tells_what_the_participant_heard(db, clock, twilio_settings, live_app, fake_twilio, wave):
    """The cases of the Asterisk end-to-end test (tests/e2e/asterisk/test_alert_truth.py), over
    TwiML and Twilio's status callbacks."""
    twilio_settings.dialer.busy_retry_delays_s = []
    sids = place_calls(db, TwilioCallBackend(twilio_settings), clock, twilio_settings)

    # Gone half a second after answering: answered, heard nothing.
    fake_twilio.answer(sids[ACK])
    clock.advance(0.5)
    fake_twilio.hangup(sids[ACK])
    # A 2 five seconds into the message: put through at once.
    fake_twilio.answer(sids[TRANSFER])
    clock.advance(5.0)
    fake_twilio.press(sids[TRANSFER], "2")
    assert fake_twilio.call(sids[TRANSFER]).dialed == [CENTRALIST]
    fake_twilio.dial_result(sids[TRANSFER], "completed")
    # Silent: the message plays out, the menu starts, then they hang up.
    fake_twilio.answer(sids[SILENT])
    clock.advance(9.0)
    fake_twilio.gather_timeout(sids[SILENT])
    assert fake_twilio.waiting_for(sids[SILENT]) == "Gather"  # the menu
    fake_twilio.hangup(sids[SILENT])
    # A machine takes the whole message; a busy line.
    fake_twilio.answer(sids[MACHINE], answered_by="machine_end_beep")
    fake_twilio.gather_timeout(sids[MACHINE])
    fake_twilio.finish_unanswered(sids[BUSY], "busy")

    rows = {n: delivery(db, wave.deliveries[n]) for n in (ACK, TRANSFER, SILENT, MACHINE, BUSY)}
    got = {n: (r.state, r.heard, r.listened_s, r.hangup_cause, r.hangup_by) for n, r in rows.items()}
    S = DeliveryState
    assert got[ACK] == (S.COMPLETED, MessageHeard.NONE, 0.5, "NORMAL_CLEARING", HangupBy.PARTICIPANT)
    assert got[TRANSFER][:3] == (S.COMPLETED, MessageHeard.PART, 5.0)
    assert rows[TRANSFER].menu_choices == "2" and rows[TRANSFER].transfer_requested
    assert got[SILENT] == (S.COMPLETED, MessageHeard.ALL, 9.0, "NORMAL_CLEARING", HangupBy.PARTICIPANT)
    assert got[MACHINE][:2] == (S.MACHINE, MessageHeard.ALL)
    assert got[BUSY] == (S.BUSY, None, None, "USER_BUSY", HangupBy.PARTICIPANT)
