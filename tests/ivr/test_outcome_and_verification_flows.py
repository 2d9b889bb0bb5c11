"""The outcome call (afloopbericht) and the verification call: walked through the engine, and
through the FastAGI server over TCP with the test playing Asterisk."""

from __future__ import annotations

import pytest
from fake_asterisk import FakeChannel, fake_call_id
from ivr_seed import PARTICIPANT_NUMBER, seed_all
from test_fastagi import wait_for_outcomes

from db.models import Action, ActionStatus, Channel, Delivery, DeliveryKind, DeliveryState, Outcome, PhoneKind
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import CallEnv, Engine, FlowError, HangupStep, Input, MenuStep, PlayStep, Speech, walk
from ivr.outcome_flow import OUTCOME_FLOW
from ivr.prompt_texts import prompt_text
from ivr.verification_flow import VERIFICATION_FLOW
from prompts.messages import compose_outcome

OUTCOME = Engine(OUTCOME_FLOW)
VERIFICATION = Engine(VERIFICATION_FLOW)


def seed_outcome_call(db, *, outcome: Outcome | None = Outcome.ARRESTED, note: str = "") -> tuple[int, str]:
    """An ended action and the outcome delivery to the participant; returns (delivery id,
    the message the participant must hear)."""
    seeded = seed_all(db)
    with db.transaction() as s:
        action = s.get(Action, seeded.action_id)
        action.status = ActionStatus.ENDED
        action.outcome = outcome
        action.outcome_note = note
        delivery = Delivery(
            action_id=action.id,
            participant_id=seeded.participant_id,
            kind=DeliveryKind.OUTCOME,
            channel=Channel.VOICE,
            target=PARTICIPANT_NUMBER,
            phone_kind=PhoneKind.MOBILE,
            state=DeliveryState.ANSWERED,
        )
        s.add(delivery)
        s.flush()
        delivery.provider, delivery.provider_id = "asterisk", fake_call_id(delivery.id)
        text = (
            compose_outcome(outcome.value, action.incident_type.value, "+318000011", note).voice
            if outcome
            else ""
        )
        return delivery.id, text


def env_for(session, clock, settings, answered_by=None) -> CallEnv:
    return CallEnv(session=session, clock=clock, settings=settings, provider="test", answered_by=answered_by)


def speech_of(turns) -> list[tuple]:
    return [(t.step.node, tuple(s.key or s.text for s in getattr(t.step, "speech", ()))) for t in turns]


# --- outcome ------------------------------------------------------------------------------


def test_outcome_is_played_once_then_repeated_on_request(db, clock, settings):
    delivery_id, text = seed_outcome_call(db, note="Dankzij uw tips")
    assert "Dankzij uw tips" in text
    with db.session() as s:
        turns = walk(
            OUTCOME,
            env_for(s, clock, settings),
            {"delivery_id": delivery_id},
            [Input.done(), Input.digit("1"), Input.done(), Input.timeout()],
        )
    assert speech_of(turns) == [
        ("message", (text,)),
        ("offer_repeat", ("outcome_repeat_offer",)),
        ("repeat", ("repeat", text)),
        ("offer_repeat", ("outcome_repeat_offer",)),
        ("goodbye", ("goodbye",)),
    ]
    assert isinstance(turns[1].step, MenuStep) and turns[1].step.digits == {"1"}
    assert turns[1].step.speech[0].text == "Druk op één om dit bericht nog een keer te horen."
    assert isinstance(turns[-1].step, HangupStep)
    with db.session() as s:
        assert s.get(Delivery, delivery_id).menu_choices == "1"


def test_outcome_to_an_answering_machine_waits_for_the_beep(db, clock, settings):
    delivery_id, text = seed_outcome_call(db, outcome=Outcome.FOUND)
    with db.session() as s:
        turns = walk(
            OUTCOME,
            env_for(s, clock, settings, answered_by="machine_end_beep"),
            {"delivery_id": delivery_id},
            [Input.done(), Input.done()],
        )
    assert speech_of(turns) == [("machine_wait", ()), ("machine_message", (text,)), ("end", ())]


@pytest.mark.parametrize("case", ["no_outcome", "alert_delivery", "no_delivery"])
def test_outcome_flow_refuses_what_it_cannot_say(case, db, clock, settings):
    if case == "no_outcome":
        delivery_id, _ = seed_outcome_call(db, outcome=None)
    elif case == "alert_delivery":
        delivery_id = seed_all(db).delivery_id
    else:
        delivery_id = 999
    with db.session() as s, pytest.raises(FlowError, match="outcome flow"):
        OUTCOME.start(env_for(s, clock, settings), {"delivery_id": delivery_id})


# --- verification -------------------------------------------------------------------------


def test_verification_code_is_spoken_twice_digit_by_digit(db, clock, settings):
    with db.session() as s:
        turns = walk(
            VERIFICATION,
            env_for(s, clock, settings),
            {"delivery_id": 1, "code": "482013"},
            [Input.done(), Input.done()],
        )
    digits = ("vier", "acht", "twee", "nul", "één", "drie")
    assert speech_of(turns) == [
        ("code", ("verification_intro", *digits)),
        ("again", ("verification_repeat", *digits)),
        ("end", ("verification_end",)),
    ]
    assert isinstance(turns[0].step, PlayStep) and isinstance(turns[-1].step, HangupStep)
    assert turns[0].step.speech[0].text == "Dit is Burgernet. Uw verificatiecode is:"


def test_verification_to_an_answering_machine_waits_for_the_beep(db, clock, settings):
    with db.session() as s:
        turns = walk(
            VERIFICATION,
            env_for(s, clock, settings, answered_by="MACHINE"),
            {"code": "1234"},
            [Input.done(), Input.done(), Input.done()],
        )
    assert [t.step.node for t in turns] == ["machine_wait", "code", "again", "end"]


@pytest.mark.parametrize("code", [None, "", "12", "12a456", "12345678901"])
def test_verification_without_a_valid_code_is_refused(code, db, clock, settings):
    with db.session() as s, pytest.raises(FlowError, match="no valid code"):
        VERIFICATION.start(env_for(s, clock, settings), {"code": code} if code is not None else {})


# --- through FastAGI ----------------------------------------------------------------------


def channel(server, script, **kwargs) -> FakeChannel:
    host, port = server.server_address[:2]
    return FakeChannel(host, port, script, **kwargs)


def test_fastagi_routes_outcome_calls_to_the_outcome_flow(server, db, agi_settings):
    delivery_id, text = seed_outcome_call(db)
    call = channel(
        server,
        "outcome",
        presses=["1", ""],
        variables={"BURGERNET_DELIVERY_ID": str(delivery_id), "BURGERNET_AMD": "HUMAN"},
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    sounds = AsteriskSounds(agi_settings)
    message = sounds.sound_name(Speech(text))
    offer = sounds.sound_name(
        Speech(prompt_text("outcome_repeat_offer", agi_settings), "outcome_repeat_offer")
    )
    # message, offer, "I repeat" + message, offer, goodbye
    played = call.played()
    assert len(played) == 6
    assert (played[0], played[1], played[3], played[4]) == (message, offer, message, offer)
    assert len(call.sent("WAIT FOR DIGIT 5000")) == 2 and commands[-1] == "HANGUP"
    with db.session() as s:
        assert s.get(Delivery, delivery_id).menu_choices == "1"


def test_fastagi_outcome_call_to_a_machine(server, db):
    delivery_id, _ = seed_outcome_call(db)
    call = channel(
        server, "outcome", variables={"BURGERNET_DELIVERY_ID": str(delivery_id), "BURGERNET_AMD": "MACHINE"}
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    assert call.sent("EXEC WaitForSilence") and len(call.played()) == 1 and commands[-1] == "HANGUP"
    assert not call.sent("WAIT FOR DIGIT")


def seed_verification_call(db) -> str:
    """A verification call the courier placed (its call id stored); its delivery id."""
    with db.transaction() as s:
        delivery = Delivery(
            kind=DeliveryKind.VERIFICATION,
            channel=Channel.VOICE,
            target=PARTICIPANT_NUMBER,
            phone_kind=PhoneKind.MOBILE,
            state=DeliveryState.ANSWERED,
        )
        s.add(delivery)
        s.flush()
        delivery.provider, delivery.provider_id = "asterisk", fake_call_id(delivery.id)
        return str(delivery.id)


def test_fastagi_routes_verification_calls_and_speaks_each_digit(server, db, agi_settings):
    delivery_id = seed_verification_call(db)
    call = channel(
        server,
        "verification",
        variables={
            "BURGERNET_DELIVERY_ID": delivery_id,
            "BURGERNET_AMD": "HUMAN",
            "BURGERNET_CODE": "4 8 2 0 1 4",
        },
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    sounds = AsteriskSounds(agi_settings)
    digit = {word: sounds.sound_name(Speech(word)) for word in ("vier", "acht", "twee", "nul", "één")}
    code = [digit[w] for w in ("vier", "acht", "twee", "nul", "één", "vier")]
    played = call.played()
    assert len(played) == 15
    assert played[1:7] == code and played[8:14] == code
    assert not call.sent("WAIT FOR DIGIT") and commands[-1] == "HANGUP"


@pytest.mark.parametrize(
    "variables",
    [{}, {"BURGERNET_CODE": "12"}],
    ids=["no_code", "short_code"],
)
def test_fastagi_verification_without_a_code_falls_back(variables, server, db):
    variables = {"BURGERNET_DELIVERY_ID": seed_verification_call(db), **variables}
    call = channel(server, "verification", variables=variables)
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"fallback": 1}
    assert "SET CONTEXT burgernet-fallback" in commands and not call.played()
