"""The console's call-back view: who waits, who talks, the missed callers with a call-back
button (desk first, then the caller; audited), and the centralist's presence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import AuditEvent, ControlRoom, Operator, Sighting
from dialer.backends.desk_phones import SimulatedDeskPhones


@pytest.fixture
def phones(app):
    fake = SimulatedDeskPhones()
    app.extensions["burgernet.desk_phones"] = fake
    return fake


def seed_calls(db, staff, clock) -> dict[str, int]:
    now = clock.now()
    with db.transaction() as s:
        s.get(ControlRoom, staff.control_room_id).callback_queue = "burgernet-callback"
        other = ControlRoom(name="Meldkamer elders", region="Elders", transfer_target="+31101234567")
        s.add(other)
        s.flush()
        rows = {
            "waiting": Sighting(
                control_room_id=staff.control_room_id,
                caller_number="+31611110001",
                line_state="waiting",
                queued_at=now - timedelta(seconds=75),
                received_at=now - timedelta(seconds=90),
            ),
            "talking": Sighting(
                control_room_id=staff.control_room_id,
                caller_number="+31611110002",
                line_state="connected",
                answered_by="PJSIP/burgernet-centralist",
                wait_s=12.0,
                received_at=now,
            ),
            "missed": Sighting(
                control_room_id=staff.control_room_id,
                caller_number="+31611110003",
                line_state="missed",
                wait_s=40.0,
                received_at=now,
            ),
            "withheld": Sighting(
                control_room_id=staff.control_room_id,
                caller_number=None,
                line_state="missed",
                received_at=now,
            ),
            "elsewhere": Sighting(
                control_room_id=other.id, caller_number="+31611110009", line_state="missed", received_at=now
            ),
        }
        s.add_all(rows.values())
        s.flush()
        return {name: row.id for name, row in rows.items()}


def test_the_board_shows_the_own_rooms_waiting_talking_and_missed_callers(logged_in, db, staff, clock):
    client, _token = logged_in
    seed_calls(db, staff, clock)
    page = client.get("/terugbellen").get_data(as_text=True)
    assert "Terugbellijn" in page and "+31611110001" in page and "1 min 15 s" in page
    assert "+31611110009" not in page  # another control room's caller
    board = client.get("/terugbellen/board.json").get_json()
    assert [c["caller"] for c in board["waiting"]] == ["+31611110001"]
    assert [(c["caller"], c["answered_by"]) for c in board["talking"]] == [
        ("+31611110002", "PJSIP/burgernet-centralist")
    ]
    missed = {c["caller"]: c for c in board["missed"]}  # newest first; these came at once
    assert set(missed) == {"+31611110003", "afgeschermd nummer"}
    assert missed["+31611110003"]["wait"] == "40 s" and missed["afgeschermd nummer"]["withheld"]


def test_call_back_rings_the_desk_then_the_caller_and_is_audited(logged_in, db, staff, clock, phones):
    client, token = logged_in
    ids = seed_calls(db, staff, clock)
    assert client.post(f"/terugbellen/{ids['missed']}/bellen").status_code == 400  # no CSRF token
    assert phones.calls == []
    response = client.post(f"/terugbellen/{ids['missed']}/bellen", data={"csrf_token": token})
    assert response.status_code == 302
    assert phones.calls == [("+31701234567", "+31611110003", f"sighting-{ids['missed']}")]
    with db.session() as s:
        row = s.get(Sighting, ids["missed"])
        assert (row.called_back_by_id, row.called_back_at) == (staff.centralist_id, clock.now())
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "callback.called_back")).one()
        assert audit.operator_id == staff.centralist_id and audit.target_id == ids["missed"]
    # Withheld or another room's caller: refused in Dutch, nothing rings.
    for name in ("withheld", "elsewhere"):
        page = client.post(
            f"/terugbellen/{ids[name]}/bellen", data={"csrf_token": token}, follow_redirects=True
        ).get_data(as_text=True)
        assert "afgeschermd nummer" in page or "niet gevonden" in page
    assert len(phones.calls) == 1


def test_presence_pauses_the_centralists_desk_in_the_queue(logged_in, db, staff, clock, phones):
    client, token = logged_in
    seed_calls(db, staff, clock)
    page = client.post(
        "/terugbellen/beschikbaarheid", data={"csrf_token": token, "available": "0"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "U staat op bezet." in page
    assert phones.presence == [("+31701234567", "burgernet-callback", False)]
    with db.session() as s:
        assert s.get(Operator, staff.centralist_id).available is False
        assert s.scalars(select(AuditEvent).where(AuditEvent.event == "callback.presence")).one()
