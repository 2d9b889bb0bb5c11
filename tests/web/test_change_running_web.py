"""Changing a running action through the console (Flask test client): CSRF and the own control
room guard both doors, the supervisor confirms an oversized change on the spot, and the live
page shows the history."""

from __future__ import annotations

import re

import pytest
from console_population import add_participants
from console_testing import csrf_from, login
from test_console_flow import SUSPECT, post, start_action

from db.models import ActionRevision, AuditEvent, ControlRoom, Operator, Role


@pytest.fixture
def console(client, staff, db):
    add_participants(db, 12)
    login(client, "centralist")
    return client, csrf_from(client.get("/actions/new").get_data(as_text=True))


def test_changes_need_csrf_and_an_oversized_circle_a_supervisor(console, db, settings):
    client, token = console
    action_id = start_action(client, token, SUSPECT | {"radius_m": "300"})
    page = client.get(f"/actions/{action_id}/change").get_data(as_text=True)
    assert 'name="d__suspect__clothing" value="een blauwe jas"' in page

    update = {"incident_type": "suspect", "d__suspect__clothing": "een rode jas", "free_text": ""}
    assert client.post(f"/actions/{action_id}/update", data=update).status_code == 400  # no CSRF token
    assert client.post(f"/actions/{action_id}/area", data={"radius_m": "900"}).status_code == 400
    assert db.count(ActionRevision) == 0

    # Above the limit after the change: the centralist alone is refused, nothing is added.
    settings.max_recipients_without_supervisor = 4
    area = {"lat": SUSPECT["lat"], "lon": SUSPECT["lon"], "radius_m": "1500", "location_label": ""}
    preview = post(client, f"/actions/{action_id}/area/preview", token, area).get_data(as_text=True)
    added = int(re.search(r'name="expected_added" value="(\d+)"', preview).group(1))
    assert added > 0 and 'name="supervisor_password"' in preview
    refused = post(client, f"/actions/{action_id}/area", token, area | {"expected_added": str(added)})
    assert refused.status_code == 422 and "supervisor" in refused.get_data(as_text=True)
    assert db.count(ActionRevision) == 0
    confirmed = post(
        client,
        f"/actions/{action_id}/area",
        token,
        area
        | {
            "expected_added": str(added),
            "supervisor_username": "supervisor",
            "supervisor_password": "burgernet-demo",
        },
    )
    assert confirmed.status_code == 302
    assert post(client, f"/actions/{action_id}/update", token, update).status_code == 422  # supervisor again
    live = client.get(f"/actions/{action_id}").get_data(as_text=True)
    line = 'Straal vergroot</strong><span class="r-text"> door Centralist (bevestigd door Supervisor)'
    assert line in live
    with db.session() as s:
        events = [e.event for e in s.query(AuditEvent).order_by(AuditEvent.id)]
    assert "action.area_changed" in events and "action.updated" not in events


def test_another_control_room_cannot_change_the_action(console, db, staff):
    client, token = console
    action_id = start_action(client, token)
    client.post("/logout", data={"csrf_token": token})
    with db.transaction() as s:
        other = ControlRoom(name="Meldkamer Rotterdam", region="R", transfer_target="+31104567890")
        s.add(other)
        s.flush()
        me = s.get(Operator, staff.centralist_id)
        s.add(
            Operator(
                username="elders",
                display_name="Elders",
                password_hash=me.password_hash,
                role=Role.CENTRALIST,
                control_room_id=other.id,
            )
        )
    login(client, "elders")
    assert client.get(f"/actions/{action_id}/change").status_code == 404
