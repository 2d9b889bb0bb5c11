"""The call-back line on Twilio with the platform's recordings store full or unwritable (issue
19, item 4): every caller is one Sighting row, and nobody hears "vastgelegd" unless the report
is recorded (Twilio keeps a recording we could not fetch yet; its callback files it)."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import select
from twilio_seed import OUR_NUMBER, seed_wave

from db.models import Sighting
from ivr.prompt_texts import prompt_text
from tests.support.fake_twilio import silence_wav

CALLER = "+31612345601"


@pytest.fixture
def said(twilio_settings):
    return lambda key: "say:" + prompt_text(key, twilio_settings)


@pytest.fixture
def wave(db, live_app):
    return seed_wave(db, [CALLER])


def only_sighting(db) -> Sighting:
    with db.session() as s:
        return s.scalars(select(Sighting)).one()


def test_a_read_only_store_puts_the_caller_through_and_keeps_a_flagged_row(
    db, twilio_settings, live_app, fake_twilio, wave, said, tmp_path
):
    store = twilio_settings.recordings_dir
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,ro", "tmpfs", str(store)], check=True)
    try:
        call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
        fake_twilio.press(call.sid, "1")
        heard = fake_twilio.call(call.sid).heard
        assert heard[-2:] == [said("callback_cannot_record"), said("callback_transfer")]
        assert fake_twilio.waiting_for(call.sid) == "Dial"
        fake_twilio.dial_result(call.sid, "completed")
    finally:
        subprocess.run(["umount", str(store)], check=False)
    heard = fake_twilio.call(call.sid).heard
    assert said("callback_record") not in heard and said("callback_thanks") not in heard
    sighting = only_sighting(db)
    assert (sighting.action_id, sighting.caller_number) == (wave.action_id, CALLER)
    assert sighting.recording_status == "failed"
    assert sighting.recording_error == f"no room to record: {store}: not writable (Read-only file system)"
    assert (sighting.transferred, sighting.transfer_result) == (True, "completed")


def test_a_recording_twilio_keeps_is_filed_by_its_callback(
    db, twilio_settings, live_app, fake_twilio, wave, said
):
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    fake_twilio.press(call.sid, "1")
    fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1, recording_available=False)
    # Twilio holds the whole recording: the caller was told so; the callback filed it.
    assert fake_twilio.call(call.sid).heard[-2:] == [said("callback_thanks"), said("callback_saved_bye")]
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.recording_error) == ("complete", None)
    assert (twilio_settings.recordings_dir / sighting.recording_path).is_file()


def test_a_caller_who_hangs_up_during_the_welcome_is_one_row(db, live_app, fake_twilio, wave):
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    assert call.sid  # the welcome was rendered; the caller hangs up, Twilio asks nothing more
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.caller_number, sighting.provider_call_id) == (
        "none",
        CALLER,
        call.sid,
    )
