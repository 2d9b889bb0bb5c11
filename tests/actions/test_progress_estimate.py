"""The live page's figures: how the trunk is shared with the other running actions, and an
estimate that accounts for the share and, once calls flow, for the rate measured."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from actions.progress import action_progress
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    IncidentType,
    Trunk,
)

S = DeliveryState


def _action(s, room_id, incident, priority, started_at) -> Action:
    action = Action(
        control_room_id=room_id,
        incident_type=incident,
        lat=52.0116,
        lon=4.3571,
        radius_m=2000,
        status=ActionStatus.RUNNING,
        priority=priority,
        urgent=True,  # no night rest in these tests
        channels=["voice"],
        started_at=started_at,
    )
    s.add(action)
    s.flush()
    return action


def _rows(s, action, count, state=S.QUEUED, start=0, **values) -> list[int]:
    rows = [
        {
            "action_id": action.id,
            "channel": Channel.VOICE,
            "target": f"+3115{action.id:02d}{i:05d}",
            "rank": i,
            "priority": action.priority,
            "state": state,
            **values,
        }
        for i in range(start, start + count)
    ]
    return list(s.scalars(insert(Delivery).returning(Delivery.id), rows))


def test_two_running_actions_share_the_trunk_and_the_estimate_counts_the_share(db, rooms, clock, settings):
    with db.transaction() as s:
        s.add(
            Trunk(name="sim", backend="simulator", max_channels=30, cps=10.0, control_room_id=rooms.room_id)
        )
        child = _action(s, rooms.room_id, IncidentType.MISSING_CHILD, 100, clock.now())
        vehicle = _action(s, rooms.room_id, IncidentType.VEHICLE, 40, clock.now())
        _rows(s, child, 300)
        _rows(s, vehicle, 300)
        _rows(s, vehicle, 4, state=S.RINGING, start=300)
        child_id, vehicle_id = child.id, vehicle.id
    with db.session() as s:
        seen_by_vehicle = action_progress(s, vehicle_id, clock, settings)
        seen_by_child = action_progress(s, child_id, clock, settings)
    shares = {item.action_id: item for item in seen_by_vehicle.sharing}
    assert set(shares) == {child_id, vehicle_id}
    assert shares[vehicle_id].lines == 4 and shares[vehicle_id].kind == "alert"
    assert shares[vehicle_id].share is not None and shares[child_id].share is not None
    assert shares[vehicle_id].share >= settings.dialer.min_share
    assert shares[child_id].share > shares[vehicle_id].share
    assert seen_by_vehicle.share == shares[vehicle_id].share
    assert seen_by_child.sharing == seen_by_vehicle.sharing
    # Same queue, smaller share: a longer wait, and the page says it rests on the share.
    assert seen_by_vehicle.estimated_seconds_left > seen_by_child.estimated_seconds_left
    assert seen_by_vehicle.estimate_basis == "share"


def test_once_calls_flow_the_estimate_follows_the_measured_rate(db, rooms, clock, settings):
    """590 calls queued, 33 placed in the last minute: the queue needs more than 590 / 33
    minutes, whatever the trunk could do at its best."""
    with db.transaction() as s:
        action = _action(s, rooms.room_id, IncidentType.VEHICLE, 40, clock.now() - timedelta(minutes=10))
        _rows(s, action, 590)
        placed = _rows(s, action, 33, state=S.COMPLETED, start=590, attempts=1)
        s.execute(
            insert(DeliveryEvent),
            [
                {
                    "delivery_id": delivery_id,
                    "at": clock.now() - timedelta(seconds=50 - i),
                    "event": "dialer.claimed",
                    "from_state": "queued",
                    "to_state": "dialing",
                    "detail": {},
                }
                for i, delivery_id in enumerate(placed)
            ],
        )
        action_id = action.id
    with db.session() as s:
        progress = action_progress(s, action_id, clock, settings)
    assert progress.calls_per_minute == 33
    assert progress.estimate_basis == "measured"
    assert progress.estimated_seconds_left >= 590 / 33 * 60
