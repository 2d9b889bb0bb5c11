"""The call-back flow walked through the engine: identification, choice of action, the
sighting stored before the thank-you, the transfer and its fallbacks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callback_line.flow import CALLBACK_FLOW
from db.models import Action, ActionStatus, Operator, Sighting
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
from audio_files import write_wav
from ivr_seed import PARTICIPANT_NUMBER, STARTED, seed_action, seed_all, seed_room

ENGINE = Engine(CALLBACK_FLOW)
STRANGER = "+31152158000"


@pytest.fixture
def seeded(db):
    return seed_all(db)


def env_for(session, clock, settings, caller=PARTICIPANT_NUMBER, dialed="08000011", call_id=None):
    return CallEnv(session=session, clock=clock, settings=settings, provider="test",
                   provider_call_id=call_id, caller_number=caller, dialed_number=dialed)


def sightings(db) -> list[Sighting]:
    with db.session() as s:
        return s.scalars(select(Sighting).order_by(Sighting.id)).all()


def test_participant_alerted_for_one_action(seeded, db, clock, settings, tmp_path):
    audio = write_wav(tmp_path / "asterisk" / "rec.wav", seconds=2.0)
    with db.session() as s:
        env = env_for(s, clock, settings, caller="0612345678")
        turn = ENGINE.start(env)
        assert isinstance(turn.step, PlayStep) and turn.step.speech[0].key == "callback_welcome"
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert turn.step.node == "one_action"
        assert turn.step.speech[1].text == "De oproep van 14 uur 50 over een verdachte, bij Markt, Delft."
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert isinstance(turn.step, RecordStep) and turn.step.beep and turn.step.max_s == 120
        turn = ENGINE.resume(turn.state, Input.recording(str(audio), None), env)
        # Before the caller hears "thank you": file in the store and row committed.
        assert turn.step.node == "thanks"
        stored = sightings(db)
        assert len(stored) == 1 and stored[0].recording_path
        assert (settings.recordings_dir / stored[0].recording_path).stat().st_size > 1000
        assert not audio.exists()
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert isinstance(turn.step, TransferStep) and turn.step.target == "PJSIP/centralist"
        turn = ENGINE.resume(turn.state, Input.transfer(True, "ANSWER"), env)
        assert isinstance(turn.step, HangupStep) and turn.step.node == "end"
    [sighting] = sightings(db)
    assert (sighting.action_id, sighting.participant_id, sighting.delivery_id) == (
        seeded.action_id, seeded.participant_id, seeded.delivery_id)
    assert sighting.control_room_id == seeded.room_id
    assert sighting.caller_number == PARTICIPANT_NUMBER
    assert sighting.distance_m == pytest.approx(1000.8, abs=1.0)
    assert sighting.duration_s == pytest.approx(2.0)
    assert sighting.received_at == clock.now()
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")


def test_stranger_chooses_between_running_actions(seeded, db, clock, settings, tmp_path):
    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        newer = seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
        newer_id = newer.id
    with db.session() as s:
        env = env_for(s, clock, settings, caller=STRANGER)
        turns = walk(ENGINE, env, {}, [
            Input.done(), Input.digit("7"), Input.digit("1"),
            Input.recording(str(write_wav(tmp_path / "r.wav")), 2.0), Input.done(),
            Input.transfer(False, "NOANSWER"),
        ])
    menu = turns[1].step
    assert isinstance(menu, MenuStep) and menu.digits == {"1", "2"}
    assert [sp.text for sp in menu.speech[1:]] == [
        "Belt u over de oproep van veertien uur vijfenvijftig over een verdachte, bij Station, "
        "Delft, druk dan op één.",
        "Belt u over de oproep van veertien uur vijftig over een verdachte, bij Markt, Delft, "
        "druk dan op twee.",
    ]
    assert turns[2].step.speech[0].key == "invalid" and turns[2].state.tries == 1
    assert isinstance(turns[3].step, RecordStep)
    # No operator started the newer action: the control room's line takes the call.
    assert turns[5].step.target == "PJSIP/meldkamer"
    assert turns[6].step.node == "transfer_failed"
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


def test_no_action_offers_the_control_room(seeded, db, clock, settings):
    with db.transaction() as s:
        s.get(Action, seeded.action_id).status = ActionStatus.ENDED
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings), {},
                     [Input.done(), Input.digit("1"), Input.transfer(False, "BUSY")])
    assert turns[1].step.node == "offer_room"
    assert [sp.key for sp in turns[1].step.speech] == ["callback_no_action", "callback_offer_control_room"]
    assert turns[2].step.target == "PJSIP/meldkamer"
    assert turns[3].step.node == "room_unreachable"
    assert sightings(db) == []


def test_no_action_and_no_known_room_says_112(db, clock, settings):
    with db.transaction() as s:
        seed_room(s, "Meldkamer A", callback_number=None)
        seed_room(s, "Meldkamer B", callback_number=None)
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings, dialed="+318000011"), {}, [Input.done()])
    assert turns[-1].step.node == "no_action_bye"
    assert "bel dan één één twee" in turns[-1].step.speech[0].text


def test_no_choice_still_records_and_reaches_the_room(seeded, db, clock, settings, tmp_path):
    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
    with db.session() as s:
        turns = walk(ENGINE, env_for(s, clock, settings, caller="anonymous"), {}, [
            Input.done(), Input.timeout(), Input.timeout(), Input.timeout(),
            Input.recording(str(write_wav(tmp_path / "r.wav")), 2.0), Input.done(),
            Input.transfer(True, "ANSWER"),
        ])
    assert turns[4].step.node == "record"
    assert turns[6].step.target == "PJSIP/meldkamer"
    [sighting] = sightings(db)
    assert sighting.action_id is None and sighting.control_room_id == seeded.room_id
    assert sighting.caller_number is None


def test_caller_hangs_up_while_recording_the_sighting_is_kept(seeded, db, clock, settings, tmp_path):
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.start(env)
        turn = ENGINE.resume(turn.state, Input.done(), env)
        turn = ENGINE.resume(turn.state, Input.done(), env)
        assert isinstance(turn.step, RecordStep)
        ENGINE.hangup(turn.state, env, Input.recording(str(write_wav(tmp_path / "r.wav", 1.5)), None))
    [sighting] = sightings(db)
    assert sighting.action_id == seeded.action_id and sighting.duration_s == pytest.approx(1.5)
    assert (settings.recordings_dir / sighting.recording_path).is_file()


def test_missing_audio_still_stores_the_sighting(seeded, db, clock, settings, tmp_path):
    with db.session() as s:
        walk(ENGINE, env_for(s, clock, settings), {}, [
            Input.done(), Input.done(), Input.recording(str(tmp_path / "never-written.wav"), 3.0),
            Input.done(), Input.transfer(True, "ANSWER")])
    [sighting] = sightings(db)
    assert sighting.recording_path is None and sighting.duration_s == 3.0


def test_same_provider_call_reported_twice_is_one_sighting(seeded, db, clock, settings, tmp_path):
    for n in range(2):
        with db.session() as s:
            env = env_for(s, clock, settings, call_id="CA123")
            turn = ENGINE.resume(ENGINE.resume(ENGINE.start(env).state, Input.done(), env).state, Input.done(), env)
            turn = ENGINE.resume(turn.state, Input.recording(str(write_wav(tmp_path / f"{n}.wav")), 2.0), env)
            assert turn.state.ctx["sighting_id"] == sightings(db)[0].id
    assert len(sightings(db)) == 1
