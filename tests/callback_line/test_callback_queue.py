"""The call-back flow with the control room's call queue, walked through the engine: every
call ends as one row that says connected, recorded or missed (with the wait), whatever the
caller does; the board of the console; calls whose IVR connection was lost are closed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from audio_files import write_wav
from ivr_seed import PARTICIPANT_NUMBER, seed_all
from sqlalchemy import select

from callback_line import line_states
from callback_line.queue import board, close_stale, expected_wait_minutes, note_answered
from db.models import ControlRoom, Sighting
from ivr.callback_flow import CALLBACK_FLOW, QUEUE_MAX_WAIT_S
from ivr.flow import CallEnv, Engine, HangupStep, Input, QueueOutcome, QueueStep, RecordStep

ENGINE = Engine(CALLBACK_FLOW)
QUEUE = "burgernet-callback"


@pytest.fixture
def seeded(db):
    seeded = seed_all(db)
    with db.transaction() as s:
        s.get(ControlRoom, seeded.room_id).callback_queue = QUEUE
    return seeded


def env_for(session, clock, settings, caller=PARTICIPANT_NUMBER, call_id=None):
    return CallEnv(
        session=session,
        clock=clock,
        settings=settings,
        provider="test",
        provider_call_id=call_id,
        caller_number=caller,
        dialed_number="08000011",
    )


def to_queue(env):
    """Welcome, the one running action, then the queue step."""
    turn = ENGINE.start(env)
    turn = ENGINE.resume(turn.state, Input.done(), env)
    return ENGINE.resume(turn.state, Input.done(), env)


def rows(db) -> list[Sighting]:
    with db.session() as s:
        return s.scalars(select(Sighting).order_by(Sighting.id)).all()


def test_callers_wait_in_order_hear_their_position_and_a_connected_call_says_who_answered(
    seeded, db, clock, settings
):
    with db.session() as s:
        first = to_queue(env_for(s, clock, settings, call_id="c1"))
        clock.advance(5)
        env2 = env_for(s, clock, settings, caller="+31687654321", call_id="c2")
        second = to_queue(env2)
        assert isinstance(second.step, QueueStep) and second.step.queue == QUEUE
        assert second.step.max_wait_s == QUEUE_MAX_WAIT_S and second.step.leave_digit == "1"
        assert first.step.speech[0].text.endswith("U bent nummer één in de wachtrij.")
        assert second.step.speech[0].text.endswith("U bent nummer twee in de wachtrij.")
        assert "druk dan één" in second.step.hold_speech[0].text
        now = clock.now()
        listed = board(s, seeded.room_id, now)
        assert [c.caller_number for c in listed.waiting] == [PARTICIPANT_NUMBER, "+31687654321"]
        assert [c.participant_name for c in listed.waiting] == ["Anna Jansen", None]
        assert listed.waiting[0].wait_s == 5.0 and listed.waiting[0].distance_m is not None

        # The PBX says at once who took the first caller (its flow hears it after the talk).
        clock.advance(2)
        assert note_answered(s, "test", "c1", "PJSIP/burgernet-centralist", clock.now())
        listed = board(s, seeded.room_id, clock.now())
        assert [(c.answered_by, c.wait_s) for c in listed.talking] == [("PJSIP/burgernet-centralist", 7.0)]
        assert [c.caller_number for c in listed.waiting] == ["+31687654321"]
        env1 = env_for(s, clock, settings, call_id="c1")
        answered = Input.queued(QueueOutcome.ANSWERED, 7.0, "PJSIP/burgernet-centralist")
        done = ENGINE.resume(first.state, answered, env1)
        assert isinstance(done.step, HangupStep)
        assert board(s, seeded.room_id, clock.now()).talking == []
        # The next caller hears an expected wait from the waits of answered callers.
        assert expected_wait_minutes(s, seeded.room_id, 2, clock.now()) == 1

    first_row = rows(db)[0]
    assert (first_row.line_state, first_row.transferred, first_row.wait_s) == ("connected", True, 7.0)
    assert first_row.ended_at is not None  # the IVR hung up after the conversation


def test_hangup_while_waiting_is_a_missed_row_with_the_number_and_the_wait(seeded, db, clock, settings):
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = to_queue(env)
        ENGINE.hangup(turn.state, env, Input.queued(QueueOutcome.HANGUP, 42.5))
    [row] = rows(db)
    assert (row.line_state, row.caller_number, row.wait_s) == ("missed", PARTICIPANT_NUMBER, 42.5)
    assert row.transfer_result == "queue:hangup" and not row.transferred
    with db.session() as s:
        assert [c.id for c in board(s, seeded.room_id, clock.now()).missed] == [row.id]


@pytest.mark.parametrize("outcome", [QueueOutcome.LEFT, QueueOutcome.TIMEOUT, QueueOutcome.UNAVAILABLE])
def test_leaving_the_queue_offers_the_recording_and_a_hangup_while_recording_keeps_it(
    outcome, seeded, db, clock, settings, tmp_path
):
    audio = write_wav(tmp_path / "asterisk" / "partial.wav", seconds=2.0)
    with db.session() as s:
        env = env_for(s, clock, settings)
        turn = ENGINE.resume(to_queue(env).state, Input.queued(outcome, 30.0), env)
        assert isinstance(turn.step, RecordStep)
        assert turn.step.node == ("record_unreachable" if outcome is QueueOutcome.UNAVAILABLE else "record")
        assert rows(db)[0].line_state == "recording"
        ENGINE.hangup(turn.state, env, Input.recording(str(audio), 2.0))
    [row] = rows(db)
    assert row.line_state == "recorded" and row.recording_status in ("complete", "truncated")
    assert (settings.recordings_dir / row.recording_path).exists()


def test_withheld_caller_and_a_hangup_during_the_welcome_are_rows_too(seeded, db, clock, settings):
    with db.session() as s:
        env = env_for(s, clock, settings, caller="anonymous")
        turn = ENGINE.start(env)
        ENGINE.hangup(turn.state, env, None)
    [row] = rows(db)
    assert (row.line_state, row.caller_number, row.wait_s) == ("missed", None, None)


def test_calls_whose_ivr_was_lost_are_closed_as_missed(seeded, db, clock, settings):
    with db.session() as s:
        to_queue(env_for(s, clock, settings, call_id="lost-waiting"))
        ENGINE.start(env_for(s, clock, settings, caller="+31687654321", call_id="lost-welcome"))
        assert close_stale(s, clock.now(), QUEUE_MAX_WAIT_S) == 0
        clock.advance(QUEUE_MAX_WAIT_S + 61)
        assert close_stale(s, clock.now(), QUEUE_MAX_WAIT_S) == 1
        clock.advance(900)
        assert close_stale(s, clock.now(), QUEUE_MAX_WAIT_S) == 1
    assert [r.line_state for r in rows(db)] == ["missed", "missed"]
    assert rows(db)[0].wait_s >= QUEUE_MAX_WAIT_S


def test_a_conversation_whose_ivr_was_lost_leaves_the_talking_list_after_an_hour(seeded, db, clock, settings):
    with db.session() as s:
        to_queue(env_for(s, clock, settings, call_id="lost-talking"))
        assert note_answered(s, "test", "lost-talking", "PJSIP/burgernet-centralist", clock.now())
        room_id = rows(db)[0].control_room_id
        assert [c.caller_number for c in board(s, room_id, clock.now()).talking] == [PARTICIPANT_NUMBER]
        clock.advance(QUEUE_MAX_WAIT_S + 61)
        assert close_stale(s, clock.now(), QUEUE_MAX_WAIT_S) == 0  # talking is no waiting
        clock.advance(3600)
        assert close_stale(s, clock.now(), QUEUE_MAX_WAIT_S) == 1
        assert board(s, room_id, clock.now()).talking == []
    [row] = rows(db)
    assert (row.line_state, row.answered_by) == ("connected", "PJSIP/burgernet-centralist")
    assert row.ended_at is not None


def test_a_transfer_answered_after_the_provider_said_the_call_was_over_is_connected(
    seeded, db, clock, settings
):
    """Twilio's status callback may come before the <Dial> action of a transfer: the row is
    closed as missed first, then the transfer's answer makes it connected."""
    from callback_line.queue import close_hung_up

    with db.transaction() as s:
        for room in s.scalars(select(ControlRoom)):
            room.callback_queue = None  # put through directly
    with db.session() as s:
        env = env_for(s, clock, settings, call_id="CA-race")
        turn = ENGINE.start(env)
        turn = ENGINE.resume(turn.state, Input.done(), env)  # the welcome
        turn = ENGINE.resume(turn.state, Input.done(), env)  # the one action
        turn = ENGINE.resume(turn.state, Input.timeout(), env)  # no 1: put through
        assert type(turn.step).__name__ == "TransferStep"
        assert [r.line_state for r in close_hung_up(s, "test", "CA-race", clock.now())] == ["missed"]
        turn = ENGINE.resume(turn.state, Input.transfer(True, "completed"), env)
        assert turn.step.final
    [row] = rows(db)
    assert (row.line_state, row.transferred) == ("connected", True)


def test_the_transition_table_refuses_going_back_from_an_end():
    now = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    row = Sighting(id=1, line_state="connected")
    with pytest.raises(line_states.LineStateError):
        line_states.move(row, line_states.WAITING, now)
    assert not line_states.advance(row, line_states.WAITING, now)  # a provider's late report
    assert line_states.final_state(Sighting(line_state="ivr", recording_status="truncated")) == "recorded"
