from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ivr_seed import PARTICIPANT_NUMBER, seed_all, seed_room

from callback_line.caller import (
    Caller,
    candidate_actions,
    describe_action,
    identify_caller,
    normalize_number,
    room_for_dialed_number,
)
from db.models import Action, IncidentType
from participants.selection import haversine_m


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0612345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("31612345678", "+31612345678"),
        ("+31 6 1234-5678", "+31612345678"),
        ("0152158000", "+31152158000"),
        ("08000011", "+318000011"),
        ("anonymous", None),
        ("", None),
        (None, None),
        ("123", None),
    ],
)
def test_normalize_number(raw, expected):
    assert normalize_number(raw) == expected


def test_describe_action_in_local_time():
    action = Action(
        incident_type=IncidentType.MISSING_CHILD,
        location_label="Markt, Delft",
        started_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
    )
    assert describe_action(action, "Europe/Amsterdam") == (
        "de oproep van 14 uur over een vermist kind, bij Markt, Delft"
    )
    action.incident_type, action.location_label = IncidentType.OTHER, ""
    assert describe_action(action, "Europe/Amsterdam") == "de oproep van 14 uur"


def test_haversine_one_hundredth_degree_latitude():
    assert haversine_m(52.0, 4.0, 52.01, 4.0) == pytest.approx(1112.0, abs=1.0)


def test_identify_and_room(db):
    seeded = seed_all(db)
    with db.session() as s:
        assert identify_caller(s, "0612345678") == Caller(PARTICIPANT_NUMBER, (seeded.participant_id,))
        assert identify_caller(s, "0152158000") == Caller("+31152158000", ())
        assert identify_caller(s, "anonymous") == Caller(None, ())
        # One room: any dialed number reaches it.
        assert room_for_dialed_number(s, "unknown") == seeded.room_id
    with db.transaction() as s:
        other = seed_room(s, "Meldkamer Rotterdam", callback_number="+318000012").id
    with db.session() as s:
        assert room_for_dialed_number(s, "08000011") == seeded.room_id
        assert room_for_dialed_number(s, "+318000012") == other
        assert room_for_dialed_number(s, "unknown") is None
        # A stranger calling the other room's number: that room runs nothing.
        assert candidate_actions(s, Caller("+31152158000", ()), other) == []
        assert [a.id for a in candidate_actions(s, Caller("+31152158000", ()), None)] == [seeded.action_id]
