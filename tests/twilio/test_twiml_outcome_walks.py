"""The outcome flow (afloopbericht) over TwiML: the same flow definition the FastAGI server
runs, step for step, when Twilio fetches /twilio/voice/outcome (an answering machine redirected
after its beep, or an outcome call placed through the voice webhook)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))

from test_twiml_callback_walks import engine_summary
from test_twiml_walks import twiml_summary
from twilio_seed import OUR_NUMBER, seed_wave

from db.models import Action, ActionStatus, Delivery, DeliveryKind, Outcome
from ivr.flow import CallEnv, Engine, Input, walk
from ivr.outcome_flow import OUTCOME_FLOW
from prompts.messages import compose_outcome

LISTENER = "+31612399001"


def outcome_delivery(db) -> int:
    wave = seed_wave(db, [LISTENER], kind=DeliveryKind.OUTCOME)
    with db.transaction() as s:
        action = s.get(Action, wave.action_id)
        action.status, action.outcome = ActionStatus.ENDED, Outcome.VEHICLE_FOUND
    return wave.deliveries[LISTENER]


@pytest.mark.parametrize(
    "answered_by,inputs",
    [
        ("human", [Input.done(), Input.digit("1"), Input.done(), Input.timeout()]),
        ("machine_end_beep", [Input.done(), Input.done()]),
    ],
)
def test_outcome_flow_same_steps_on_the_engine_and_on_twilio(
    answered_by, inputs, db, clock, twilio_settings, live_app, fake_twilio
):
    delivery_id = outcome_delivery(db)
    with db.session() as session:
        env = CallEnv(
            session=session, clock=clock, settings=twilio_settings, provider="engine", answered_by=answered_by
        )
        expected = [
            engine_summary(t.step)
            for t in walk(Engine(OUTCOME_FLOW), env, {"delivery_id": delivery_id}, inputs)
        ]
    with db.transaction() as s:  # the engine walk's key press is not Twilio's
        s.get(Delivery, delivery_id).menu_choices = ""

    url = live_app.url(f"/twilio/voice/outcome?delivery={delivery_id}&answered_by={answered_by}")
    call = fake_twilio.incoming_call(OUR_NUMBER, LISTENER, url)
    for item in inputs:
        if item.kind.value == "digits":
            fake_twilio.press(call.sid, item.digits)
        elif item.kind.value == "timeout":
            fake_twilio.gather_timeout(call.sid)
    assert fake_twilio.call(call.sid).ended
    seen = [twiml_summary(u, d) for u, d in fake_twilio.call(call.sid).documents]
    assert seen == expected
    message = compose_outcome("vehicle_found", "suspect", OUR_NUMBER).voice
    said = [text for step in seen if len(step) > 2 for text in step[2]]
    assert said.count(message) == (2 if answered_by == "human" else 1)
    with db.session() as s:
        pressed = s.get(Delivery, delivery_id).menu_choices
    assert pressed == ("1" if answered_by == "human" else "")
