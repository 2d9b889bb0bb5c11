"""Every legal transition applies and is logged; every illegal one is refused, logged, not applied."""

from __future__ import annotations

import itertools
import logging

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select

from db.models import Channel, Delivery, DeliveryEvent, DeliveryState
from deliveries.states import (
    ALLOWED,
    IN_FLIGHT,
    IN_PROGRESS,
    MESSAGE_ONLY,
    REACHED,
    RESULT_STATES,
    VOICE_ONLY,
    IllegalTransition,
    is_allowed,
    transition,
)

S = DeliveryState
ALL_PAIRS = list(itertools.product(S, S))


def expected_legal(channel: Channel, a: S, b: S) -> bool:
    if b not in ALLOWED[a]:
        return False
    if channel == Channel.VOICE:
        return b not in MESSAGE_ONLY
    return b not in VOICE_ONLY


def test_table_covers_every_state():
    assert set(ALLOWED) == set(S)
    assert ALLOWED[S.QUEUED] >= {S.DIALING, S.HELD, S.SENDING, S.CANCELLED}
    assert ALLOWED[S.SENDING] == {S.SENT, S.FAILED}
    assert ALLOWED[S.DIALING] >= {S.RINGING, S.BUSY, S.NO_ANSWER, S.FAILED}
    assert ALLOWED[S.RINGING] >= {S.ANSWERED, S.LEAVING_MESSAGE}
    assert ALLOWED[S.ANSWERED] >= {S.COMPLETED, S.LEAVING_MESSAGE}
    assert ALLOWED[S.LEAVING_MESSAGE] == {S.MACHINE}  # the machine is the result, not a phase
    for terminal in (S.COMPLETED, S.CANCELLED, S.OPTED_OUT, S.DELIVERED):
        assert ALLOWED[terminal] == set()
    assert not is_allowed(Channel.SMS, S.QUEUED, S.DIALING)
    assert not is_allowed(Channel.VOICE, S.QUEUED, S.SENT)
    assert not is_allowed(Channel.SMS, S.QUEUED, S.SENT)  # a message is claimed first
    assert not is_allowed(Channel.VOICE, S.QUEUED, S.SENDING)
    assert not is_allowed(Channel.EMAIL, S.RINGING, S.LEAVING_MESSAGE)


def test_no_state_hides_in_another_column():
    """The sets name the states; nothing needs finished_at or claimed_by to tell them apart."""
    assert S.LEAVING_MESSAGE in IN_FLIGHT and S.MACHINE not in IN_FLIGHT
    assert S.SENDING in IN_PROGRESS and S.QUEUED not in IN_PROGRESS
    assert S.MACHINE in RESULT_STATES and S.LEAVING_MESSAGE not in RESULT_STATES
    assert {S.LEAVING_MESSAGE, S.MACHINE} <= REACHED and S.SENDING not in REACHED


@pytest.mark.parametrize("channel", [Channel.VOICE, Channel.SMS])
def test_every_transition(db, room, clock, channel, caplog):
    caplog.set_level(logging.WARNING, logger="deliveries.states")
    with db.session() as s:
        action = make_action(s, room)
        rows = make_deliveries(s, action, len(ALL_PAIRS), channel=channel)
        for row, (a, _b) in zip(rows, ALL_PAIRS, strict=True):
            row.state = a  # arrange the starting state directly (test set-up only)
        s.commit()
        legal = illegal = 0
        for row, (a, b) in zip(rows, ALL_PAIRS, strict=True):
            if expected_legal(channel, a, b):
                transition(s, row, b, event="test", clock=clock, note="x")
                assert row.state == b
                legal += 1
            else:
                with pytest.raises(IllegalTransition):
                    transition(s, row, b, event="test", clock=clock)
                assert row.state == a
                illegal += 1
        s.commit()
        events = s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "test")).all()
        assert len(events) == legal
        assert all(e.detail == {"note": "x"} for e in events)
        assert {(e.from_state, e.to_state) for e in events} == {
            (a.value, b.value) for a, b in ALL_PAIRS if expected_legal(channel, a, b)
        }
        stored = {r.id: r.state for r in s.scalars(select(Delivery))}
        for row, (a, b) in zip(rows, ALL_PAIRS, strict=True):
            assert stored[row.id] == (b if expected_legal(channel, a, b) else a)
    assert legal > 10 and illegal > 100
    assert sum("delivery.illegal_transition" in r.message for r in caplog.records) == illegal


def test_bookkeeping_columns(db, room, clock):
    with db.session() as s:
        action = make_action(s, room)
        (row,) = make_deliveries(s, action, 1)
        row.claimed_by = "worker-1"
        transition(s, row, S.DIALING, event="claim", clock=clock)
        transition(s, row, S.RINGING, event="call.ringing", clock=clock)
        clock.advance(5)
        transition(s, row, S.ANSWERED, event="call.answered", clock=clock)
        assert row.answered_at == clock.now() and row.answered_by == "human"
        clock.advance(30)
        transition(s, row, S.COMPLETED, event="call.completed", clock=clock)
        assert row.finished_at == clock.now() and row.result == "completed"
        assert row.claimed_by is None
        s.commit()


def test_bookkeeping_of_an_answering_machine(db, room, clock):
    with db.session() as s:
        (row,) = make_deliveries(s, make_action(s, room), 1)
        row.claimed_by = "worker-1"
        transition(s, row, S.DIALING, event="claim", clock=clock)
        clock.advance(5)
        transition(s, row, S.LEAVING_MESSAGE, event="call.machine", clock=clock)
        assert (row.answered_at, row.answered_by) == (clock.now(), "machine")
        assert row.finished_at is None and row.result is None and row.claimed_by == "worker-1"
        clock.advance(20)
        transition(s, row, S.MACHINE, event="call.machine_message_left", clock=clock)
        assert (row.finished_at, row.result, row.claimed_by) == (clock.now(), "machine", None)
        s.commit()
