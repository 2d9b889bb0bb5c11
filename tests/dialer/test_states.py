"""Every legal transition applies and is logged; every illegal one is refused, logged, not applied."""
from __future__ import annotations

import itertools
import logging

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select

from db.models import Channel, Delivery, DeliveryEvent, DeliveryState
from deliveries.states import ALLOWED, MESSAGE_ONLY, VOICE_ONLY, IllegalTransition, is_allowed, transition

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
    assert ALLOWED[S.QUEUED] >= {S.DIALING, S.HELD, S.SENT, S.CANCELLED}
    assert ALLOWED[S.DIALING] >= {S.RINGING, S.BUSY, S.NO_ANSWER, S.FAILED}
    assert ALLOWED[S.RINGING] >= {S.ANSWERED, S.MACHINE}
    assert ALLOWED[S.ANSWERED] >= {S.COMPLETED}
    for terminal in (S.COMPLETED, S.CANCELLED, S.OPTED_OUT, S.DELIVERED):
        assert ALLOWED[terminal] == set()
    assert not is_allowed(Channel.SMS, S.QUEUED, S.DIALING)
    assert not is_allowed(Channel.VOICE, S.QUEUED, S.SENT)


@pytest.mark.parametrize("channel", [Channel.VOICE, Channel.SMS])
def test_every_transition(db, room, clock, channel, caplog):
    caplog.set_level(logging.WARNING, logger="deliveries.states")
    with db.session() as s:
        action = make_action(s, room)
        rows = make_deliveries(s, action, len(ALL_PAIRS), channel=channel)
        for row, (a, _b) in zip(rows, ALL_PAIRS):
            row.state = a  # arrange the starting state directly (test set-up only)
        s.commit()
        legal = illegal = 0
        for row, (a, b) in zip(rows, ALL_PAIRS):
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
            (a.value, b.value) for a, b in ALL_PAIRS if expected_legal(channel, a, b)}
        stored = {r.id: r.state for r in s.scalars(select(Delivery))}
        for row, (a, b) in zip(rows, ALL_PAIRS):
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
