"""The call-back flow on a full or unwritable disk (issue 19, item 4): every caller is one
Sighting row, flagged when the recording failed or was cut, and nobody hears "vastgelegd"
(saved) unless the recording is complete and in the store."""

from __future__ import annotations

import logging

import pytest
from audio_files import write_wav
from full_disk import fill
from ivr_seed import PARTICIPANT_NUMBER, seed_all
from sqlalchemy import select

from callback_line import recordings
from db.models import Sighting
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import CallEnv, Engine, HangupStep, Input, RecordStep, TransferStep, walk

ENGINE = Engine(CALLBACK_FLOW)
SAVED = {"callback_thanks", "callback_saved_bye"}
PRESS_1 = [Input.done(), Input.done(), Input.digit("1")]  # welcome, the action, "1: record"


@pytest.fixture
def seeded(db):
    return seed_all(db)


def env_for(session, clock, settings, provider="test", caller=PARTICIPANT_NUMBER):
    return CallEnv(
        session=session,
        clock=clock,
        settings=settings,
        provider=provider,
        provider_call_id="call-1",
        caller_number=caller,
        dialed_number="08000011",
    )


def only_sighting(db) -> Sighting:
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        return sighting


def heard(turns) -> list[str]:
    return [sp.key for t in turns for sp in getattr(t.step, "speech", ()) if sp.key]


@pytest.fixture
def no_room(monkeypatch):
    """Every disk reports 1 MB free (the minimum is 16 MB)."""

    class Usage:
        free = 1_000_000

    monkeypatch.setattr(recordings.shutil, "disk_usage", lambda _path: Usage)


def test_no_room_to_record_puts_the_caller_through_and_keeps_a_failed_row(
    seeded, db, clock, settings, no_room, caplog
):
    with db.session() as s, caplog.at_level(logging.ERROR, logger="ivr.callback_flow"):
        turns = walk(ENGINE, env_for(s, clock, settings), {}, [*PRESS_1, Input.transfer(True, "ANSWER")])
    transfer = turns[3].step
    assert isinstance(transfer, TransferStep) and transfer.node == "no_room_transfer"
    assert [sp.key for sp in transfer.speech] == ["callback_cannot_record", "callback_transfer"]
    assert (
        transfer.speech[0].text == "Door een technische storing kan uw waarneming nu niet worden opgenomen."
    )
    assert not any(isinstance(t.step, RecordStep) for t in turns)
    assert not SAVED & set(heard(turns))
    sighting = only_sighting(db)
    assert (sighting.action_id, sighting.caller_number) == (seeded.action_id, PARTICIPANT_NUMBER)
    assert sighting.recording_status == "failed"
    assert sighting.recording_error.startswith("no room to record: ")
    assert "1.0 MB free, below the minimum of 16.0 MB" in sighting.recording_error
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
    # The operators' alert: logged, the caller's number masked.
    [alert] = [r for r in caplog.records if r.getMessage().startswith("callback.recording_failed")]
    assert "+316****5678" in alert.getMessage() and PARTICIPANT_NUMBER not in alert.getMessage()


def test_no_room_and_the_centralist_unreachable_asks_for_112(seeded, db, clock, settings, no_room):
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings), {}, [*PRESS_1, Input.transfer(False, "NOANSWER")])
    assert isinstance(turns[-1].step, HangupStep) and turns[-1].step.node == "rescue_failed"
    assert turns[-1].step.speech[0].text.endswith("Heeft u spoed, bel dan één één twee. Tot ziens.")
    assert not SAVED & set(heard(turns))
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.transferred, sighting.transfer_result) == (
        "failed",
        False,
        "NOANSWER",
    )


def test_no_room_after_a_failed_transfer_goes_straight_to_112(seeded, db, clock, settings, no_room):
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [Input.done(), Input.done(), Input.timeout(), Input.transfer(False, "BUSY")],
        )
    assert turns[-1].step.node == "no_room_112"
    assert heard(turns[-1:]) == ["callback_cannot_record", "callback_room_unreachable"]
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.transfer_result) == ("failed", "BUSY")


def test_asterisk_recording_directory_full_is_checked_before_recording(
    seeded, db, clock, settings, tiny_tmpfs
):
    pbx = tiny_tmpfs("pbx")
    fill(pbx)
    asterisk = settings.asterisk.model_copy(update={"recordings_dir": str(pbx)})
    configured = settings.model_copy(update={"asterisk": asterisk, "recording_min_free_mb": 0})
    with db.session() as s:
        turns = walk(
            ENGINE, env_for(s, clock, configured, provider="asterisk"), {}, [*PRESS_1, Input.transfer(True)]
        )
    assert turns[3].step.node == "no_room_transfer"
    sighting = only_sighting(db)
    assert sighting.recording_status == "failed"
    assert sighting.recording_error == f"no room to record: {pbx}: not writable (No space left on device)"


def test_a_recording_cut_short_is_kept_flagged_and_not_called_saved(seeded, db, clock, settings, tmp_path):
    # Asterisk counted 8 s (its end position); 4 s reached the disk.
    audio = write_wav(tmp_path / "pbx" / "r.wav", seconds=4.0)
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [*PRESS_1, Input.recording(str(audio), 8.0), Input.transfer(True, "ANSWER")],
        )
    assert turns[4].step.node == "partial_transfer"
    assert turns[4].step.speech[0].text == (
        "Door een technische storing is uw waarneming maar voor een deel opgenomen."
    )
    assert not SAVED & set(heard(turns))
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.duration_s) == ("truncated", 4.0)
    assert sighting.recording_error == "cut short: 4.0 of 8.0 s reached the disk"
    assert (settings.recordings_dir / sighting.recording_path).stat().st_size == 44 + 4 * 16000
    assert sighting.transferred


def test_a_full_store_keeps_the_row_and_points_at_the_audio(
    seeded, db, clock, settings, tmp_path, tiny_tmpfs
):
    store = tiny_tmpfs("instance/recordings")  # the platform's store, full after the check
    configured = settings.model_copy(update={"recording_min_free_mb": 0})
    audio = write_wav(tmp_path / "pbx" / "r.wav", seconds=2.0)
    with db.session() as s:
        env = env_for(s, clock, configured)
        turn = ENGINE.start(env)
        for happened in PRESS_1:
            turn = ENGINE.resume(turn.state, happened, env)
        assert isinstance(turn.step, RecordStep)
        fill(store)  # the disk fills while the caller speaks
        turn = ENGINE.resume(turn.state, Input.recording(str(audio), 2.0), env)
        assert turn.step.node == "failed_transfer"
        assert (
            turn.step.speech[0].text == "Door een technische storing is uw waarneming helaas niet opgenomen."
        )
        turn = ENGINE.resume(turn.state, Input.transfer(False, "NOANSWER"), env)
        assert turn.step.node == "rescue_failed"
    sighting = only_sighting(db)
    assert sighting.recording_status == "failed" and sighting.recording_path is None
    assert sighting.recording_error.endswith(f"audio kept at {audio}")
    assert audio.is_file() and sighting.duration_s == 2.0
    assert sighting.transfer_result == "NOANSWER"


def test_the_recorder_could_not_write_at_all(seeded, db, clock, settings, tmp_path):
    """RECORD FILE answered -1 (writefile): no file, the row says why, then 112 when nobody
    can be reached."""
    missing = tmp_path / "pbx" / "never.wav"
    error = "RECORD FILE failed (result -1: writefile)"
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [
                Input.done(),
                Input.done(),
                Input.timeout(),
                Input.transfer(False, "BUSY"),
                Input.recording(str(missing), None, error),
            ],
        )
    assert turns[-1].step.node == "failed_112"
    assert heard(turns[-1:]) == ["callback_recording_failed", "callback_room_unreachable"]
    sighting = only_sighting(db)
    assert sighting.recording_status == "failed"
    assert sighting.recording_error.startswith(error)


def test_a_complete_recording_is_still_called_saved(seeded, db, clock, settings, tmp_path):
    audio = write_wav(tmp_path / "pbx" / "r.wav", seconds=3.0)
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings), {}, [*PRESS_1, Input.recording(str(audio), 3.0)])
    assert heard(turns[-1:]) == ["callback_thanks", "callback_saved_bye"]
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.recording_error) == ("complete", None)


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_a_caller_who_hangs_up_before_recording_is_one_row(seeded, db, clock, settings, steps):
    """During the welcome, the action's name, or the offer: a row with nothing recorded."""
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.start(env)
        for happened in PRESS_1[:steps]:
            turn = ENGINE.resume(turn.state, happened, env)
        ENGINE.hangup(turn.state, env, None)
    sighting = only_sighting(db)
    assert (sighting.recording_status, sighting.recording_path, sighting.transferred) == ("none", None, False)
    assert sighting.caller_number == PARTICIPANT_NUMBER and sighting.control_room_id == seeded.room_id
    assert sighting.action_id == (seeded.action_id if steps else None)
