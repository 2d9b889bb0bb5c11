"""The control room's overview of its running actions (progress, estimate, share of the lines,
sightings waiting), and the live page saying how the lines are shared and with which action."""

from __future__ import annotations

import re

from sqlalchemy import insert

from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryState,
    IncidentType,
    MessageHeard,
    Sighting,
)

S = DeliveryState


def _running(s, room_id, incident, priority, queued, clock, **extra) -> int:
    action = Action(
        control_room_id=room_id,
        incident_type=incident,
        lat=52.0116,
        lon=4.3571,
        radius_m=2000,
        status=ActionStatus.RUNNING,
        priority=priority,
        urgent=True,
        channels=["voice"],
        voice_text="x",
        started_at=clock.now(),
        **extra,
    )
    s.add(action)
    s.flush()
    s.execute(
        insert(Delivery),
        [
            {
                "action_id": action.id,
                "channel": Channel.VOICE,
                "target": f"+3115{action.id:02d}{i:05d}",
                "rank": i,
                "priority": priority,
                "state": S.QUEUED if i < queued else S.COMPLETED,
                "heard": None if i < queued else MessageHeard.ALL,  # reached: heard the message
            }
            for i in range(queued + 5)
        ],
    )
    return action.id


def test_the_overview_shows_every_running_action_with_its_share_and_sightings(logged_in, db, staff, clock):
    client, _csrf = logged_in
    with db.transaction() as s:
        child = _running(s, staff.control_room_id, IncidentType.MISSING_CHILD, 100, 200, clock)
        vehicle = _running(s, staff.control_room_id, IncidentType.VEHICLE, 40, 150, clock)
        s.add(
            Sighting(action_id=vehicle, control_room_id=staff.control_room_id, caller_number="+31612345678")
        )
    page = client.get("/").get_data(as_text=True)
    overview = page[page.index('id="running-overview"') : page.index('id="actions-list"')]
    cards = dict(re.findall(r'data-action-id="(\d+)">(.*?)</article>', overview, re.S))
    assert set(cards) == {str(child), str(vehicle)}
    assert "Voertuig" in cards[str(vehicle)]
    assert "gedeeld met 1 andere actie" in cards[str(vehicle)]
    child_share = int(re.search(r'o-share">(\d+)%', cards[str(child)]).group(1))
    vehicle_share = int(re.search(r'o-share">(\d+)%', cards[str(vehicle)]).group(1))
    assert child_share > vehicle_share >= 20 and child_share + vehicle_share == 100
    assert f"/actions/{vehicle}#meldingen" in cards[str(vehicle)]  # one sighting waits
    assert "has-sightings" not in overview.split(f'data-action-id="{child}"')[0].rsplit("<article", 1)[1]
    assert "5 van 205" in cards[str(child)] and "5 van 155" in cards[str(vehicle)]
    assert "js/actions_overview.js" in page  # the page refreshes itself

    # The live page's data says with which action the lines are shared.
    snapshot = client.get(f"/actions/{vehicle}/progress.json").get_json()
    sharing = {item["action_id"]: item for item in snapshot["progress"]["sharing"]}
    assert set(sharing) == {child, vehicle}
    assert sharing[child]["incident_type"] == "missing_child" and sharing[child]["own_control_room"]
    assert snapshot["progress"]["share"] == sharing[vehicle]["share"]
    assert snapshot["progress"]["estimate_basis"] == "share"
    live = client.get(f"/actions/{vehicle}").get_data(as_text=True)
    assert 'id="sharing-table"' in live and 'data-min-share="0.2"' in live


def test_no_running_action_says_so(logged_in):
    client, _csrf = logged_in
    page = client.get("/").get_data(as_text=True)
    assert "Er loopt nu geen actie." in page
