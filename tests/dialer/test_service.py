"""The wave on a real selection: launch, plan nearest first, progress, estimates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from actions.errors import ActionError
from actions.progress import action_progress, estimate_wave_seconds
from actions.wave import launch_wave, plan_wave
from bench.dialer import CENTRE, seed_population
from config.clock import FakeClock
from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Delivery,
    DeliveryState,
    IncidentType,
    Operator,
    Role,
)
from participants.selection import select_recipients

S = DeliveryState


def draft(s, room, incident=IncidentType.SUSPECT, radius=1500):
    operator = Operator(
        username="centralist",
        display_name="C",
        password_hash="x",
        role=Role.CENTRALIST,
        control_room_id=room.id,
    )
    action = Action(
        control_room_id=room.id,
        incident_type=incident,
        lat=CENTRE[0],
        lon=CENTRE[1],
        radius_m=radius,
        channels=[],
        status=ActionStatus.DRAFT,
        description={"clothing": "rode jas", "height_cm": 180},
        free_text="",
    )
    s.add_all([operator, action])
    s.flush()
    return action, operator


def test_start_freezes_texts_and_plans_nearest_first(db, room, clock, settings):
    seed_population(db, 300, seed=1)
    with db.session() as s:
        action, operator = draft(s, room)
        launch_wave(s, action, operator, clock, settings)
        expected = select_recipients(s, action.lat, action.lon, action.radius_m, clock.now())
        rows = s.scalars(
            select(Delivery).where(Delivery.action_id == action.id).order_by(Delivery.rank)
        ).all()
        assert action.status == ActionStatus.RUNNING and action.started_at == clock.now()
        assert "Burgernet" in action.voice_text and action.sms_text
        assert action.priority == settings.incident_priority["suspect"] and not action.urgent
        assert [(r.target, r.channel) for r in rows] == [(x.target, x.channel) for x in expected]
        assert len(rows) > 50
        distances = [r.distance_m for r in rows]
        assert distances == sorted(distances)
        assert {r.state for r in rows} == {S.QUEUED}
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "action.started")).one()
        assert audit.operator_id == operator.id and audit.target_id == action.id
        with pytest.raises(ActionError):
            launch_wave(s, action, operator, clock, settings)
        assert plan_wave(s, action, clock, settings) == 0  # planning again adds nothing

        progress = action_progress(s, action.id, clock, settings)
        assert progress.total == len(rows) and progress.queued == len(rows)
        assert progress.reached == 0 and progress.estimated_seconds_left > 0


def test_start_at_night_holds_voice_for_non_urgent_only(db, room, settings):
    seed_population(db, 100, seed=2)
    night = FakeClock(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # 00:00 local
    with db.session() as s:
        suspect, operator = draft(s, room)
        launch_wave(s, suspect, operator, night, settings)
        child = Action(
            control_room_id=room.id,
            incident_type=IncidentType.MISSING_CHILD,
            lat=CENTRE[0],
            lon=CENTRE[1],
            radius_m=1500,
            channels=["voice"],
            status=ActionStatus.DRAFT,
            description={"age": 7, "clothing": "gele jas"},
        )
        s.add(child)
        s.flush()
        launch_wave(s, child, operator, night, settings)
        held = action_progress(s, suspect.id, night, settings)
        urgent = action_progress(s, child.id, night, settings)
    assert held.held == held.by_channel["voice"]["held"] > 0
    assert urgent.held == 0 and urgent.queued > 0


def test_estimate_wave_seconds():
    assert estimate_wave_seconds(0, 30, 10, 30, 0.7) == 0
    # 1000 recipients, 1300 attempts: channel-bound (1300 * 30 / 100 = 390 s) + one call
    assert estimate_wave_seconds(1000, 100, 50, 30, 0.7) == pytest.approx(390 + 30)
    # rate-bound: 1300 attempts at 2 per second
    assert estimate_wave_seconds(1000, 1000, 2, 30, 0.7) == pytest.approx(650 + 30)
    with pytest.raises(ValueError):
        estimate_wave_seconds(10, 0, 10, 30, 0.7)
