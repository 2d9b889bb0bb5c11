"""The call-back line over FastAGI when the recording directory fills up: Asterisk's RECORD FILE
answers -1 (the file could not be written) or ends with an end position past what reached the
disk. The caller is told so (never "vastgelegd"), put through, and the call is one flagged row."""

from __future__ import annotations

import threading

import pytest
from fake_asterisk import FakeChannel
from ivr_seed import seed_all
from sqlalchemy import select

from db.models import Sighting
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import Speech
from ivr.prompt_texts import prompt_text


@pytest.fixture
def seeded(db):
    return seed_all(db)


def run_call(server, **kwargs) -> FakeChannel:
    host, port = server.server_address[:2]
    call = FakeChannel(host, port, "callback", callerid="0612345678", presses=["1"], **kwargs)
    call.run()
    for _ in range(200):
        if sum(server.outcomes.values()) >= 1:
            break
        threading.Event().wait(0.02)
    return call


def sound(settings, key: str) -> str:
    return AsteriskSounds(settings).sound_name(Speech(prompt_text(key, settings), key))


def test_record_file_that_cannot_write_is_said_and_put_through(server, seeded, db, agi_settings):
    call = run_call(server, fail_at="RECORD FILE")
    assert dict(server.outcomes) == {"completed": 1}  # not the fallback apology
    played = call.played()
    assert sound(agi_settings, "callback_recording_failed") in played
    assert sound(agi_settings, "callback_thanks") not in played
    assert call.sent("GOSUB burgernet-transfer s 1")  # put through to the centralist
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert sighting.action_id == seeded.action_id and sighting.recording_path is None
        assert sighting.recording_status == "failed"
        assert sighting.recording_error.startswith("RECORD FILE failed (result -1: writefile)")
        assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")


def test_a_recording_shorter_than_asterisk_counted_is_truncated(server, seeded, db, agi_settings):
    # Asterisk reports endpos=16000 (2 s at 8 kHz); only 0.5 s reached the disk.
    call = run_call(server, record_seconds=0.5, dial_status="NOANSWER")
    assert dict(server.outcomes) == {"completed": 1}
    played = call.played()
    assert sound(agi_settings, "callback_recording_partial") in played
    assert sound(agi_settings, "callback_thanks") not in played
    assert played[-1] == sound(agi_settings, "callback_room_unreachable")  # "bel 112"
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.recording_status, sighting.duration_s) == ("truncated", 0.5)
        assert sighting.recording_error == "cut short: 0.5 of 2.0 s reached the disk"
        assert (agi_settings.recordings_dir / sighting.recording_path).is_file()
        assert sighting.transfer_result == "NOANSWER"


def test_a_complete_recording_is_thanked(server, seeded, db, agi_settings):
    call = run_call(server, record_seconds=2.0)
    assert call.played()[-2:] == [
        sound(agi_settings, "callback_thanks"),
        sound(agi_settings, "callback_saved_bye"),
    ]
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert sighting.recording_status == "complete"
