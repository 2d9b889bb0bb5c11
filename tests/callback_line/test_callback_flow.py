"""The call-back flow walked through the engine: identification, choice of action, the offer
to record instead of being put through, the transfer, the recording when the control room
cannot be reached, and the sighting stored before the thank-you."""

from __future__ import annotations

from datetime import timedelta

import pytest
from audio_files import write_wav
from ivr_seed import PARTICIPANT_NUMBER, STARTED, seed_action, seed_all, seed_room
from sqlalchemy import select

from db.models import Action, ActionStatus, Operator, Sighting
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import (
    CallEnv,
    Engine,
    HangupStep,
    Input,
    MenuStep,
    PlayStep,
    RecordStep,
    TransferStep,
    walk,
)

ENGINE = Engine(CALLBACK_FLOW)
STRANGER = "+31152158000"


@pytest.fixture
def seeded(db):
    return seed_all(db)


def env_for(session, clock, settings, caller=PARTICIPANT_NUMBER, dialed="08000011", call_id=None):
    return CallEnv(
        session=session,
        clock=clock,
        settings=settings,
        provider="test",
        provider_call_id=call_id,
        caller_number=caller,
        dialed_number=dialed,
    )


def sightings(db) -> list[Sighting]:
    with db.session() as s:
        return s.scalars(select(Sighting).order_by(Sighting.id)).all()


def test_participant_who_presses_1_records_and_is_thanked_after_the_row_is_stored(
    seeded, db, clock, settings, tmp_path
):
    audio = write_wav(tmp_path / "asterisk" / "rec.wav", seconds=2.0)
    with db.session() as s:
        env = env_for(s, clock, settings, caller="0612345678")
        turn = ENGINE.start(env)
        assert isinstance(turn.step, PlayStep) and turn.step.speech[0].key == "callback_welcome"
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert turn.step.node == "one_action"
        assert turn.step.speech[1].text == "De oproep van 14 uur 50 over een verdachte, bij Markt, Delft."
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert isinstance(turn.step, MenuStep) and turn.step.node == "transfer_or_record"
        assert turn.step.digits == {"1"} and turn.step.timeout_s == 4
        assert turn.step.speech[0].text == (
            "U wordt nu doorverbonden met de meldkamer. Wilt u liever uw waarneming inspreken, druk dan één."
        )
        turn = ENGINE.resume(turn.state, Input.digit("1"), env)
        assert isinstance(turn.step, RecordStep) and turn.step.beep and turn.step.max_s == 120
        assert turn.step.speech[0].key == "callback_record"
        # The call is on record from its first prompt: no recording yet.
        [early] = sightings(db)
        assert (early.action_id, early.recording_status, early.recording_path) == (
            seeded.action_id,
            "none",
            None,
        )
        turn = ENGINE.resume(turn.state, Input.recording(str(audio), 2.0), env)
        # Before the caller hears "thank you": file in the store and row committed.
        assert isinstance(turn.step, HangupStep) and turn.step.node == "thanks"
        assert [sp.key for sp in turn.step.speech] == ["callback_thanks", "callback_saved_bye"]
        stored = sightings(db)
        assert len(stored) == 1 and stored[0].recording_path
        assert (settings.recordings_dir / stored[0].recording_path).stat().st_size > 1000
        assert not audio.exists()
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.participant_id, sighting.delivery_id) == (
        seeded.action_id,
        seeded.participant_id,
        seeded.delivery_id,
    )
    assert sighting.control_room_id == seeded.room_id
    assert sighting.caller_number == PARTICIPANT_NUMBER
    assert sighting.distance_m == pytest.approx(1000.8, abs=1.0)
    assert sighting.duration_s == pytest.approx(2.0)
    assert sighting.received_at == clock.now()
    assert (sighting.transferred, sighting.transfer_result) == (False, None)


def test_participant_who_waits_is_put_through_and_the_call_back_is_a_sighting_row(
    seeded, db, clock, settings
):
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [Input.done(), Input.done(), Input.timeout(), Input.transfer(True, "ANSWER")],
        )
    assert turns[2].step.node == "transfer_or_record"
    transfer = turns[3].step
    assert isinstance(transfer, TransferStep) and transfer.target == "+31703456701"
    assert transfer.speech == ()  # the menu already said "U wordt nu doorverbonden"
    assert isinstance(turns[4].step, HangupStep) and turns[4].step.node == "end"
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.participant_id, sighting.delivery_id) == (
        seeded.action_id,
        seeded.participant_id,
        seeded.delivery_id,
    )
    assert sighting.distance_m == pytest.approx(1000.8, abs=1.0)
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
    assert sighting.recording_path is None and sighting.duration_s is None
    assert turns[4].state.ctx["sighting_id"] == sighting.id


def test_control_room_unreachable_the_caller_records_then_is_thanked(seeded, db, clock, settings, tmp_path):
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [
                Input.done(),
                Input.done(),
                Input.timeout(),
                Input.transfer(False, "NOANSWER"),
                Input.recording(str(write_wav(tmp_path / "r.wav", 1.5)), None),
            ],
        )
    record = turns[4].step
    assert isinstance(record, RecordStep) and record.node == "record_unreachable"
    assert record.speech[0].text == (
        "De meldkamer is nu niet bereikbaar. Spreek na de piep uw waarneming in."
    )
    assert turns[5].step.node == "thanks"
    [sighting] = sightings(db)
    assert (sighting.transferred, sighting.transfer_result) == (False, "NOANSWER")
    assert sighting.action_id == seeded.action_id and sighting.duration_s == pytest.approx(1.5)
    assert (settings.recordings_dir / sighting.recording_path).is_file()


def test_nobody_to_put_through_to_goes_straight_to_the_recording(db, clock, settings, tmp_path):
    seeded = seed_all(db, operator_target=None)
    with db.transaction() as s:
        s.get(Operator, seeded.operator_id).control_room.transfer_target = ""
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [Input.done(), Input.done(), Input.recording(str(write_wav(tmp_path / "r.wav")), None)],
        )
    assert turns[2].step.node == "record_unreachable"
    [sighting] = sightings(db)
    assert sighting.action_id == seeded.action_id and not sighting.transferred


def test_stranger_chooses_between_running_actions(seeded, db, clock, settings, tmp_path):
    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        newer = seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
        newer_id = newer.id
    with db.session() as s:
        env = env_for(s, clock, settings, caller=STRANGER)
        turns = walk(
            ENGINE,
            env,
            {},
            [
                Input.done(),
                Input.digit("7"),
                Input.digit("1"),
                Input.timeout(),
                Input.transfer(False, "NOANSWER"),
                Input.recording(str(write_wav(tmp_path / "r.wav")), 2.0),
            ],
        )
    menu = turns[1].step
    assert isinstance(menu, MenuStep) and menu.digits == {"1", "2"}
    assert [sp.text for sp in menu.speech[1:]] == [
        "Belt u over de oproep van veertien uur vijfenvijftig over een verdachte, bij Station, "
        "Delft, druk dan op één.",
        "Belt u over de oproep van veertien uur vijftig over een verdachte, bij Markt, Delft, "
        "druk dan op twee.",
    ]
    assert turns[2].step.speech[0].key == "invalid" and turns[2].state.tries == 1
    assert turns[3].step.node == "transfer_or_record"
    # No operator started the newer action: the control room's line takes the call.
    assert turns[4].step.target == "+31703456700"
    assert isinstance(turns[5].step, RecordStep) and turns[6].step.node == "thanks"
    [sighting] = sightings(db)
    assert sighting.action_id == newer_id
    assert (sighting.participant_id, sighting.delivery_id, sighting.distance_m) == (None, None, None)
    assert sighting.caller_number == STRANGER
    assert (sighting.transferred, sighting.transfer_result) == (False, "NOANSWER")


def test_participant_hears_only_the_action_they_were_alerted_for(seeded, db, clock, settings):
    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.resume(ENGINE.start(env).state, Input.done(), env)
        assert turn.step.node == "one_action" and turn.state.ctx["action_id"] == seeded.action_id


def test_no_action_offers_the_control_room_and_records_when_it_is_busy(seeded, db, clock, settings, tmp_path):
    with db.transaction() as s:
        s.get(Action, seeded.action_id).status = ActionStatus.ENDED
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [
                Input.done(),
                Input.digit("1"),
                Input.transfer(False, "BUSY"),
                Input.recording(str(write_wav(tmp_path / "r.wav")), None),
            ],
        )
    assert turns[1].step.node == "offer_room"
    assert [sp.key for sp in turns[1].step.speech] == ["callback_no_action", "callback_offer_control_room"]
    assert turns[2].step.target == "+31703456700"
    assert turns[3].step.node == "record_unreachable" and turns[4].step.node == "thanks"
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.control_room_id) == (None, seeded.room_id)
    assert (sighting.transferred, sighting.transfer_result) == (False, "BUSY")


def test_no_action_put_through_to_the_room_is_a_sighting_row(seeded, db, clock, settings):
    with db.transaction() as s:
        s.get(Action, seeded.action_id).status = ActionStatus.ENDED
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [Input.done(), Input.digit("1"), Input.transfer(True, "ANSWER")],
        )
    assert turns[-1].step.node == "end"
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.control_room_id, sighting.transferred) == (
        None,
        seeded.room_id,
        True,
    )


def test_no_action_and_no_key_says_goodbye(seeded, db, clock, settings):
    with db.transaction() as s:
        s.get(Action, seeded.action_id).status = ActionStatus.ENDED
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings), {}, [Input.done(), Input.timeout()])
    assert turns[-1].step.node == "goodbye"
    # Every call to the line is one row, also one that reported nothing.
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.control_room_id) == (None, seeded.room_id)
    assert (sighting.recording_status, sighting.recording_path) == ("none", None)
    assert sighting.caller_number == PARTICIPANT_NUMBER and not sighting.transferred


def test_no_action_and_no_known_room_says_112(db, clock, settings):
    with db.transaction() as s:
        seed_room(s, "Meldkamer A", callback_number=None)
        seed_room(s, "Meldkamer B", callback_number=None)
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings, dialed="+318000011"), {}, [Input.done()])
    assert turns[-1].step.node == "no_action_bye"
    assert "bel dan één één twee" in turns[-1].step.speech[0].text


def test_no_choice_still_reaches_the_room_and_may_record(seeded, db, clock, settings, tmp_path):
    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings, caller="anonymous"),
            {},
            [
                Input.done(),
                Input.timeout(),
                Input.timeout(),
                Input.timeout(),
                Input.digit("1"),
                Input.recording(str(write_wav(tmp_path / "r.wav")), 2.0),
            ],
        )
    assert turns[4].step.node == "transfer_or_record"
    assert turns[5].step.node == "record" and turns[6].step.node == "thanks"
    [sighting] = sightings(db)
    assert sighting.action_id is None and sighting.control_room_id == seeded.room_id
    assert sighting.caller_number is None


def test_caller_hangs_up_while_recording_the_sighting_is_kept(seeded, db, clock, settings, tmp_path):
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.start(env)
        for happened in (Input.done(), Input.done(), Input.digit("1")):
            turn = ENGINE.resume(turn.state, happened, env)
        assert isinstance(turn.step, RecordStep)
        ENGINE.hangup(turn.state, env, Input.recording(str(write_wav(tmp_path / "r.wav", 1.5)), None))
    [sighting] = sightings(db)
    assert sighting.action_id == seeded.action_id and sighting.duration_s == pytest.approx(1.5)
    assert (settings.recordings_dir / sighting.recording_path).is_file()


def test_caller_hangs_up_after_talking_to_the_centralist(seeded, db, clock, settings):
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.start(env)
        for happened in (Input.done(), Input.done(), Input.timeout()):
            turn = ENGINE.resume(turn.state, happened, env)
        assert isinstance(turn.step, TransferStep)
        ENGINE.hangup(turn.state, env, Input.transfer(True, "ANSWER"))
    [sighting] = sightings(db)
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")


def test_missing_audio_still_stores_the_sighting(seeded, db, clock, settings, tmp_path):
    with db.session() as s:
        turns = walk(
            ENGINE,
            env_for(s, clock, settings),
            {},
            [
                Input.done(),
                Input.done(),
                Input.digit("1"),
                Input.recording(str(tmp_path / "never-written.wav"), 3.0),
                Input.transfer(True, "ANSWER"),
            ],
        )
    # Not "vastgelegd": told so and put through instead.
    assert turns[4].step.node == "failed_transfer"
    assert [sp.key for sp in turns[4].step.speech] == ["callback_recording_failed", "callback_transfer"]
    [sighting] = sightings(db)
    assert sighting.recording_path is None and sighting.duration_s == 3.0
    assert sighting.recording_status == "failed" and "never-written.wav" in sighting.recording_error
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")


def test_same_provider_call_reported_twice_is_one_sighting(seeded, db, clock, settings, tmp_path):
    for n in range(2):
        with db.session() as s:
            env = env_for(s, clock, settings, call_id="CA123")
            turn = ENGINE.start(env)
            for happened in (Input.done(), Input.done(), Input.digit("1")):
                turn = ENGINE.resume(turn.state, happened, env)
            turn = ENGINE.resume(turn.state, Input.recording(str(write_wav(tmp_path / f"{n}.wav")), 2.0), env)
            assert turn.state.ctx["sighting_id"] == sightings(db)[0].id
    assert len(sightings(db)) == 1
