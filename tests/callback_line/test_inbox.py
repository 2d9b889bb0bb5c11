from __future__ import annotations

from datetime import timedelta

import pytest
from ivr_seed import STARTED, seed_all, seed_room
from sqlalchemy import select

from callback_line.inbox import (
    SightingNotFound,
    count_unhandled,
    list_sightings,
    mark_handled,
    recording_file,
)
from db.models import AuditEvent, Operator, Role, Sighting


@pytest.fixture
def seeded(db):
    seeded = seed_all(db)
    with db.transaction() as s:
        s.add_all(
            [
                Sighting(
                    action_id=seeded.action_id,
                    control_room_id=seeded.room_id,
                    caller_number="+31612345678",
                    participant_id=seeded.participant_id,
                    distance_m=1000.8,
                    duration_s=12.5,
                    recording_path="2026/11/28/a.wav",
                    recording_status="truncated",
                    recording_error="cut short: 12.5 of 30.0 s reached the disk",
                    received_at=STARTED + timedelta(minutes=3),
                ),
                Sighting(
                    action_id=seeded.action_id,
                    control_room_id=seeded.room_id,
                    caller_number="+31152158000",
                    recording_status="none",
                    received_at=STARTED + timedelta(minutes=7),
                ),
            ]
        )
    return seeded


def test_newest_first_with_participant_names(seeded, db):
    with db.session() as s:
        items = list_sightings(s, seeded.action_id)
        # Inside the block: a closed session used again opens a transaction nobody closes,
        # and its lock on `sighting` stalls the next test's TRUNCATE on PostgreSQL.
        assert list_sightings(s, seeded.action_id + 1) == []
    assert [i.caller_number for i in items] == ["+31152158000", "+31612345678"]
    assert [i.participant_name for i in items] == [None, "Anna Jansen"]
    assert items[1].recording_path == "2026/11/28/a.wav" and items[1].duration_s == 12.5
    # A cut recording says so, with the seconds kept; a caller who left nothing is listed too.
    assert (items[1].recording_status, items[1].recording_error) == (
        "truncated",
        "cut short: 12.5 of 30.0 s reached the disk",
    )
    assert (items[0].recording_status, items[0].recording_path) == ("none", None)


def test_mark_handled_is_audited_and_filters(seeded, db, clock):
    with db.transaction() as s:
        operator = s.get(Operator, seeded.operator_id)
        first = list_sightings(s, seeded.action_id)[0]
        mark_handled(s, first.id, operator, clock, note=" teruggebeld ")
    with db.session() as s:
        items = list_sightings(s, seeded.action_id)
        assert (items[0].handled, items[0].handled_by, items[0].note) == (True, "J. de Vries", "teruggebeld")
        assert items[0].handled_at == clock.now()
        assert [i.id for i in list_sightings(s, seeded.action_id, unhandled_only=True)] == [items[1].id]
        assert count_unhandled(s, seeded.action_id) == 1
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "sighting.handled")).one()
        assert (audit.actor, audit.target_id) == ("jdevries", items[0].id)


def test_other_control_room_cannot_handle(seeded, db, clock):
    with db.transaction() as s:
        room = seed_room(s, "Meldkamer Rotterdam", callback_number=None)
        stranger = Operator(
            username="piet",
            display_name="Piet",
            password_hash="x",
            role=Role.CENTRALIST,
            control_room_id=room.id,
        )
        s.add(stranger)
        s.flush()
        sighting_id = list_sightings(s, seeded.action_id)[0].id
        with pytest.raises(SightingNotFound):
            mark_handled(s, sighting_id, stranger, clock)
        with pytest.raises(SightingNotFound):
            mark_handled(s, 99999, stranger, clock)


def test_recording_file_stays_inside_the_store(tmp_path):
    store = tmp_path / "recordings"
    (store / "2026").mkdir(parents=True)
    (store / "2026" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("x")
    assert recording_file(store, "2026/a.wav") == (store / "2026" / "a.wav").resolve()
    for bad in ("../secret.txt", "/etc/passwd", "2026/missing.wav", None, ""):
        with pytest.raises(SightingNotFound):
            recording_file(store, bad)
