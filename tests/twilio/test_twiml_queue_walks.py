"""The call-back flow with the control room's call queue, walked twice with the same inputs:
by the engine alone (as the FastAGI renderer drives it: Asterisk's app_queue) and by Twilio
over TwiML (`<Enqueue>` with its wait URL). The steps match prompt for prompt, and both calls
end as rows that say the same: connected, recorded or missed with the wait."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))

from test_twiml_callback_walks import engine_summary, twiml_or_record
from twilio_seed import CENTRALIST, OUR_NUMBER, seed_wave

from db.models import ControlRoom, Operator, Sighting
from ivr.callback_flow import CALLBACK_FLOW, OWN_CENTRALIST_RING_S, QUEUE_MAX_WAIT_S
from ivr.flow import CallEnv, Engine, Input, QueueOutcome, QueueStep, walk
from ivr.twiml import dequeue
from tests.support.fake_twilio import silence_wav

CALLER = "+31612399001"
QUEUE = "burgernet-callback"

# name -> (engine inputs after the welcome and the action's name, what Twilio's caller does,
#          the row's end)
SCRIPTS = {
    "answered_by_a_centralist": (
        [Input.queued(QueueOutcome.ANSWERED, 20.0)],
        [("wait", 10), ("dequeue", 20)],
        "connected",
    ),
    "press_1_while_waiting_and_record": (
        [Input.queued(QueueOutcome.LEFT, 5.0), "record"],
        [("wait", 5), ("press", "1"), ("speak",)],
        "recorded",
    ),
    "press_1_during_the_announcement_and_record": (
        [Input.queued(QueueOutcome.LEFT, 0.0), "record"],
        [("press_now", "1"), ("speak",)],
        "recorded",
    ),
    "waited_the_maximum_then_record": (
        [Input.queued(QueueOutcome.TIMEOUT, float(QUEUE_MAX_WAIT_S)), "record"],
        [("wait", 30), ("wait", QUEUE_MAX_WAIT_S), ("speak",)],
        "recorded",
    ),
}


EXPECTED_WAIT = "De verwachte wachttijd"


def without_expected_wait(item: tuple) -> tuple:
    """The expected wait is said from the waits of earlier callers (the first walk's caller
    changes it for the second): compared without it."""
    if item[0] != "menu":
        return item
    return (*item[:2], tuple(t for t in item[2] if not t.startswith(EXPECTED_WAIT)), *item[3:])


def summary(step) -> tuple:
    """The queue's announcement is a <Gather> of the leave digit on Twilio: a menu."""
    if isinstance(step, QueueStep):
        return without_expected_wait(("menu", step.node, tuple(s.text for s in step.speech)))
    return engine_summary(step)


@pytest.fixture
def queued_wave(db):
    wave = seed_wave(db, [CALLER])
    with db.transaction() as s:
        s.get(ControlRoom, wave.room_id).callback_queue = QUEUE
    return wave


def engine_walk(db, clock, settings, inputs, tmp_path) -> list[tuple]:
    resolved = []
    for item in inputs:
        if item == "record":
            audio = tmp_path / f"engine-{len(resolved)}.wav"
            audio.write_bytes(silence_wav(1.0))
            resolved.append(Input.recording(str(audio), 1.0))
        else:
            resolved.append(item)
    with db.session() as session:
        env = CallEnv(
            session=session,
            clock=clock,
            settings=settings,
            provider="engine",
            provider_call_id="engine-1",
            caller_number=CALLER,
            dialed_number=OUR_NUMBER,
        )
        turns = walk(Engine(CALLBACK_FLOW), env, {}, [Input.done(), Input.done(), *resolved])
        return [summary(t.step) for t in turns]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_queue_same_steps_on_the_engine_and_on_twilio(
    name, db, clock, twilio_settings, live_app, fake_twilio, queued_wave, tmp_path
):
    inputs, actions, end = SCRIPTS[name]
    expected = engine_walk(db, clock, twilio_settings, inputs, tmp_path)

    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    assert fake_twilio.waiting_for(call.sid) == "Gather"  # the announcement, 1 to leave
    if actions[0][0] != "press_now":
        fake_twilio.gather_timeout(call.sid)
        assert fake_twilio.call(call.sid).queued_in == QUEUE
    for action in actions:
        if action[0] == "wait":
            fake_twilio.queue_wait(call.sid, action[1])
        elif action[0] == "press":
            fake_twilio.press_in_queue(call.sid, action[1])
        elif action[0] == "press_now":
            fake_twilio.press(call.sid, action[1])
        elif action[0] == "dequeue":
            fake_twilio.dequeue(call.sid, action[1])
        elif action[0] == "speak":
            fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1)
    assert fake_twilio.call(call.sid).ended
    documents = fake_twilio.call(call.sid).documents
    # Twilio's own moves into and out of the queue (<Enqueue>, a <Redirect> to its end) are not
    # steps of the flow.
    steps = [(u, doc) for u, doc in documents if "<Enqueue" not in doc and "ev=queue" not in doc]
    seen = [without_expected_wait(twiml_or_record(u, doc)) for u, doc in steps]
    assert seen == expected
    waits = fake_twilio.call(call.sid).wait_documents
    assert all("druk dan één" in doc or "Redirect" in doc or "Leave" in doc for _url, doc in waits)

    with db.session() as s:
        rows = {x.provider: x for x in s.scalars(select(Sighting))}
    assert set(rows) == {"engine", "twilio"}
    assert rows["engine"].line_state == rows["twilio"].line_state == end
    assert rows["engine"].transferred == rows["twilio"].transferred == (end == "connected")


def test_hangup_while_waiting_on_twilio_is_a_missed_row_with_the_wait(
    db, twilio_settings, live_app, fake_twilio, queued_wave
):
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    fake_twilio.gather_timeout(call.sid)
    fake_twilio.queue_wait(call.sid, 10)
    fake_twilio.hangup_in_queue(call.sid, 37)
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    assert (row.line_state, row.caller_number, row.wait_s) == ("missed", CALLER, 37.0)


@pytest.mark.parametrize("number_reports_status", [True, False])
def test_a_caller_who_hangs_up_during_the_queue_announcement_is_missed_at_once_when_the_number_reports_it(
    db, twilio_settings, live_app, fake_twilio, queued_wave, number_reports_status
):
    """No flow step hears a hang-up during a <Gather> (here the queue's announcement, before
    <Enqueue>): only the number's status callback says the call is over. With it the row ends
    missed at once (on the call-back list, with the wait); without it the row stays waiting
    until the stale job closes it."""
    status_url = live_app.url("/twilio/callback-status") if number_reports_status else None
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"), status_url)
    assert fake_twilio.waiting_for(call.sid) == "Gather"
    fake_twilio.hangup(call.sid)
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    if number_reports_status:
        assert (row.line_state, row.caller_number) == ("missed", CALLER)
        assert row.ended_at is not None and row.wait_s is not None
    else:
        assert (row.line_state, row.ended_at) == ("waiting", None)


def test_the_status_of_a_call_that_ended_itself_changes_nothing(
    db, twilio_settings, live_app, fake_twilio, queued_wave
):
    status_url = live_app.url("/twilio/callback-status")
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"), status_url)
    fake_twilio.press(call.sid, "1")
    fake_twilio.speak(call.sid, silence_wav(1.0), duration_s=1)
    assert fake_twilio.call(call.sid).ended  # the flow hung up; the status callback followed
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    assert row.line_state == "recorded" and row.recording_path


def test_a_conversation_whose_end_twilio_never_sent_to_the_flow_is_ended_by_the_numbers_status(
    db, twilio_settings, live_app, fake_twilio, queued_wave
):
    """A centralist took the caller (the queue-answered webhook) but the <Enqueue> action that
    would end the flow never came: the number's status callback ends the conversation, so it
    leaves the console's list of who is talking."""
    call = fake_twilio.incoming_call(
        CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"), live_app.url("/twilio/callback-status")
    )
    fake_twilio.gather_timeout(call.sid)
    fake_twilio.post_webhook(
        live_app.url("/twilio/queue-answered"), {"CallSid": call.sid, "DequeingCallSid": "CA" + "d" * 32}
    )
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    assert (row.line_state, row.ended_at) == ("connected", None)
    fake_twilio.post_webhook(
        live_app.url("/twilio/callback-status"), fake_twilio._call_params(call, CallStatus="completed")
    )
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    assert row.line_state == "connected" and row.ended_at is not None


def test_a_centralist_takes_the_next_caller_with_dial_queue():
    assert dequeue(QUEUE).endswith("<Response><Dial><Queue>burgernet-callback</Queue></Dial></Response>")


def test_a_centralists_phone_takes_the_caller_and_the_row_says_connected_at_once(
    db, twilio_settings, live_app, fake_twilio, queued_wave
):
    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    fake_twilio.gather_timeout(call.sid)
    desk = fake_twilio.post_webhook(
        live_app.url(f"/twilio/dequeue/{queued_wave.room_id}"), {"CallSid": "CA" + "d" * 32, "From": "+3170"}
    )
    queue = ET.fromstring(desk.text).find("Dial/Queue")
    assert queue.text == QUEUE
    fake_twilio.post_webhook(queue.get("url"), {"CallSid": call.sid, "DequeingCallSid": "CA" + "d" * 32})
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
        assert (row.line_state, row.answered_by) == ("connected", "CA" + "d" * 32)
    fake_twilio.dequeue(call.sid, 25)
    assert fake_twilio.call(call.sid).ended
    with db.session() as s:
        [row] = s.scalars(select(Sighting)).all()
    assert (row.line_state, row.wait_s, row.ended_at is not None) == ("connected", 25.0, True)


# --- the action's own centralist first (ControlRoom.callback_own_centralist_first) --------------


@pytest.fixture
def own_first_wave(queued_wave, db):
    with db.transaction() as s:
        s.get(ControlRoom, queued_wave.room_id).callback_own_centralist_first = True
    return queued_wave


def _twilio_dial(document: str) -> tuple[str, str] | None:
    dial = ET.fromstring(document).find("Dial")
    if dial is None:
        return None
    return "".join(dial.itertext()).strip(), dial.get("timeout", "")


@pytest.mark.parametrize("answers", [True, False])
def test_the_actions_own_centralist_rings_first_then_the_queue_on_the_engine_and_on_twilio(
    answers, db, clock, twilio_settings, live_app, fake_twilio, own_first_wave, tmp_path
):
    engine_inputs = [Input.transfer(answers, "answered" if answers else "no-answer")]
    if not answers:
        engine_inputs.append(Input.queued(QueueOutcome.ANSWERED, 20.0))
    expected = engine_walk(db, clock, twilio_settings, engine_inputs, tmp_path)
    assert expected[2][:2] == ("transfer", "own_centralist") and expected[2][3] == CENTRALIST
    assert [step[:2] for step in expected[3:]] == ([] if answers else [("menu", "queue")]) + [
        ("hangup", None)
    ]

    call = fake_twilio.incoming_call(CALLER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    assert fake_twilio.waiting_for(call.sid) == "Dial"
    assert _twilio_dial(call.documents[-1][1]) == (CENTRALIST, str(OWN_CENTRALIST_RING_S))
    assert fake_twilio.call(call.sid).dialed == [CENTRALIST]
    if answers:
        fake_twilio.dial_result(call.sid, "completed")
    else:
        fake_twilio.dial_result(call.sid, "no-answer")
        assert fake_twilio.waiting_for(call.sid) == "Gather"  # the queue's announcement
        fake_twilio.gather_timeout(call.sid)
        assert fake_twilio.call(call.sid).queued_in == QUEUE
        fake_twilio.dequeue(call.sid, 20)
    assert fake_twilio.call(call.sid).ended
    steps = [(u, doc) for u, doc in fake_twilio.call(call.sid).documents if "<Enqueue" not in doc]
    seen = [without_expected_wait(twiml_or_record(u, doc)) for u, doc in steps if "ev=queue" not in doc]
    assert seen == [without_expected_wait(step) for step in expected]

    with db.session() as s:
        rows = {x.provider: x for x in s.scalars(select(Sighting))}
    for row in rows.values():
        assert row.line_state == "connected" and row.transferred
        if answers:
            assert (row.transfer_result, row.answered_by) == ("own:answered", CENTRALIST)
        else:
            assert row.transfer_result == "queue:answered"


@pytest.mark.parametrize("why", ["room_does_not", "unavailable", "talking"])
def test_callers_go_straight_into_the_queue_when_the_own_centralist_cannot_take_them(
    why, db, clock, twilio_settings, own_first_wave, tmp_path
):
    with db.transaction() as s:
        if why == "room_does_not":
            s.get(ControlRoom, own_first_wave.room_id).callback_own_centralist_first = False
        elif why == "unavailable":
            s.scalars(select(Operator)).one().available = False
        else:  # already talking to a caller the queue gave them
            s.add(
                Sighting(
                    control_room_id=own_first_wave.room_id,
                    caller_number="+31612399002",
                    received_at=clock.now(),
                    line_state="connected",
                    answered_by=CENTRALIST,
                )
            )
    steps = engine_walk(db, clock, twilio_settings, [Input.queued(QueueOutcome.ANSWERED, 5.0)], tmp_path)
    assert [step[:2] for step in steps[2:]] == [("menu", "queue"), ("hangup", None)]
