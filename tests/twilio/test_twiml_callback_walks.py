"""The call-back flow walked twice with the same inputs: once by the engine alone (what the
FastAGI renderer executes, step for step) and once by Twilio over TwiML. The steps must match,
prompt text for prompt text, and both walks must store their sighting."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))

from test_twiml_walks import twiml_summary
from twilio_seed import CENTRALIST, CONTROL_ROOM, OUR_NUMBER, seed_wave

from db.models import Action, ActionStatus, Delivery, DeliveryState, IncidentType, Sighting
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import (
    AwaitMessageEndStep,
    CallEnv,
    Engine,
    HangupStep,
    Input,
    InputKind,
    MenuStep,
    PlayStep,
    TransferStep,
    walk,
)
from tests.support.fake_twilio import silence_wav

CALLER = "+31612399001"
STRANGER = "+31687654321"


def engine_summary(step) -> tuple:
    """The engine's step in the terms `twiml_summary` reads back from TwiML."""
    texts = tuple(s.text for s in getattr(step, "speech", ()))
    if isinstance(step, MenuStep):
        return ("menu", step.node, texts)
    if isinstance(step, TransferStep):
        return ("transfer", step.node, texts, step.target)
    if isinstance(step, HangupStep):
        return ("hangup", None, texts)
    if isinstance(step, AwaitMessageEndStep):
        return ("await_message_end", step.node)
    if isinstance(step, PlayStep):
        return ("play", step.node, texts)
    return ("record", step.node, texts)


def twiml_or_record(url: str, document: str) -> tuple:
    if "<Record" in document:
        import xml.etree.ElementTree as ET
        from urllib.parse import parse_qs, urlparse

        verbs = list(ET.fromstring(document))
        record = next(v for v in verbs if v.tag == "Record")
        node = parse_qs(urlparse(record.get("action")).query)["node"][0]
        return ("record", node, tuple((v.text or "").strip() for v in verbs if v.tag == "Say"))
    return twiml_summary(url, document)


def second_action(db, room_id: int, delivery_target: str) -> int:
    with db.transaction() as s:
        first = s.scalars(select(Action)).first()
        action = Action(
            control_room_id=room_id,
            incident_type=IncidentType.MISSING_PERSON,
            description={},
            voice_text="Wij zoeken een vermiste vrouw.",
            location_label="Station, Delft",
            lat=52.0067,
            lon=4.3556,
            radius_m=2000,
            channels=["voice"],
            status=ActionStatus.RUNNING,
            started_by_id=first.started_by_id,
        )
        s.add(action)
        s.flush()
        s.add(
            Delivery(
                action_id=action.id,
                participant_id=None,
                channel="voice",
                target=delivery_target,
                state=DeliveryState.COMPLETED,
                rank=0,
            )
        )
        return action.id


# name -> (caller, several actions?, inputs)
SCRIPTS = {
    "one_action_press_1_and_record": (
        CALLER,
        False,
        [Input.done(), Input.done(), Input.digit("1"), "record"],
    ),
    "one_action_put_through": (
        CALLER,
        False,
        [Input.done(), Input.done(), Input.timeout(), Input.transfer(True, "completed")],
    ),
    "one_action_centralist_unreachable_then_record": (
        CALLER,
        False,
        [Input.done(), Input.done(), Input.timeout(), Input.transfer(False, "no-answer"), "record"],
    ),
    "several_actions_choose_the_second_and_record": (
        CALLER,
        True,
        [Input.done(), Input.digit("2"), Input.digit("1"), "record"],
    ),
    "several_actions_no_choice_put_through": (
        CALLER,
        True,
        [
            Input.done(),
            Input.timeout(),
            Input.timeout(),
            Input.timeout(),
            Input.timeout(),
            Input.transfer(True, "completed"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_callback_flow_same_steps_on_the_engine_and_on_twilio(
    name, db, clock, twilio_settings, live_app, fake_twilio, tmp_path
):
    caller, several, script = SCRIPTS[name]
    wave = seed_wave(db, [caller])
    if several:
        second_action(db, wave.room_id, caller)

    # 1. The engine alone, as the FastAGI renderer drives it.
    inputs = []
    for item in script:
        if item == "record":
            audio = tmp_path / f"engine-{len(inputs)}.wav"
            audio.write_bytes(silence_wav(1.0))
            inputs.append(Input.recording(str(audio), 1.0))
        else:
            inputs.append(item)
    with db.session() as session:
        env = CallEnv(
            session=session,
            clock=clock,
            settings=twilio_settings,
            provider="engine",
            provider_call_id="engine-1",
            caller_number=caller,
            dialed_number=OUR_NUMBER,
        )
        turns = walk(Engine(CALLBACK_FLOW), env, {}, inputs)
        expected = [engine_summary(t.step) for t in turns]

    # 2. Twilio, over TwiML, with the same inputs.
    call = fake_twilio.incoming_call(caller, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    for item in script:
        if item == "record":
            fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1)
        elif item.kind is InputKind.DIGITS:
            fake_twilio.press(call.sid, item.digits)
        elif item.kind is InputKind.TIMEOUT:
            fake_twilio.gather_timeout(call.sid)
        elif item.kind is InputKind.TRANSFER:
            fake_twilio.dial_result(call.sid, item.status)
    assert fake_twilio.call(call.sid).ended
    seen = [twiml_or_record(url, document) for url, document in fake_twilio.call(call.sid).documents]
    assert seen == expected
    transferred = any(isinstance(i, Input) and i.kind is InputKind.TRANSFER for i in script)
    assert transferred == any(s[0] == "transfer" and s[3] in (CENTRALIST, CONTROL_ROOM) for s in seen)

    with db.session() as s:
        sightings = {x.provider: x for x in s.scalars(select(Sighting))}
        assert set(sightings) == {"engine", "twilio"}
        assert sightings["engine"].action_id == sightings["twilio"].action_id
        assert sightings["engine"].transferred == sightings["twilio"].transferred
        recorded = "record" in script
        assert all(bool(x.recording_path) == recorded for x in sightings.values())
        put_through = any(isinstance(i, Input) and i.answered for i in script)
        assert all(x.transferred == put_through for x in sightings.values())
