"""Quiet hours: voice calls held (reported, not lost) outside urgent incidents, then released."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import func, select
from stepped_wave import simulated_worker

from actions.progress import action_progress
from config.clock import FakeClock
from db.models import Channel, ControlRoom, Delivery, DeliveryState, IncidentType
from deliveries.quiet_hours import QuietWindow, held_until, parse_hhmm, quiet_window

S = DeliveryState
AMS = ZoneInfo("Europe/Amsterdam")


def local(hour, minute=0, day=28):
    return datetime(2026, 11, day, hour, minute, tzinfo=AMS).astimezone(UTC)


def test_overnight_window():
    window = QuietWindow(time(23, 0), time(7, 0), AMS)
    assert window.contains(local(23, 0)) and window.contains(local(3, 0))
    assert window.contains(local(6, 59)) and not window.contains(local(7, 0))
    assert not window.contains(local(22, 59)) and not window.contains(local(14, 0))
    assert window.ends_after(local(23, 30)) == local(7, 0, day=29)
    assert window.ends_after(local(2, 0)) == local(7, 0)


def test_daytime_window_and_urgency():
    window = QuietWindow(time(12, 0), time(13, 0), AMS)
    assert window.contains(local(12, 30)) and not window.contains(local(13, 0))
    assert held_until(window, False, local(12, 30)) == local(13, 0)
    assert held_until(window, True, local(12, 30)) is None
    assert held_until(None, False, local(12, 30)) is None


def test_control_room_window_overrides_the_setting(settings):
    room = ControlRoom(
        name="x", region="y", transfer_target="+31", quiet_hours_start="22:00", quiet_hours_end="08:00"
    )
    window = quiet_window(room, settings)
    assert (window.start, window.end) == (time(22, 0), time(8, 0))
    assert (
        quiet_window(ControlRoom(name="z", region="y", transfer_target="+31"), settings).start
        == settings.quiet_hours_start
    )
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm("22h")


def count(db, **where):
    with db.session() as s:
        query = select(func.count()).select_from(Delivery)
        for column, value in where.items():
            query = query.where(getattr(Delivery, column) == value)
        return s.scalar(query)


def test_night_calls_are_held_then_released_in_the_morning(db, room, settings):
    clock = FakeClock(local(23, 30))
    with db.session() as s:
        night = make_action(s, room, incident=IncidentType.SUSPECT)
        urgent = make_action(s, room, incident=IncidentType.MISSING_CHILD, urgent=True, priority=100)
        make_deliveries(s, night, 10, prefix="+3115")
        make_deliveries(s, night, 5, channel=Channel.SMS, prefix="+3161")
        make_deliveries(s, urgent, 4, prefix="+3170")
        s.commit()
        night_id = night.id
    worker, network = simulated_worker(db, clock, settings)
    worker.tick()
    assert count(db, state=S.HELD) == 10
    assert count(db, state=S.SENT) == 5  # texts are not held
    with db.session() as s:
        held = s.scalars(select(Delivery).where(Delivery.state == S.HELD)).all()
        assert {d.next_attempt_at for d in held} == {local(7, 0, day=29)}
        assert {d.action_id for d in held} == {night_id}
        progress = action_progress(s, night_id, clock, settings)
    assert progress.held == 10 and progress.by_channel["voice"] == {"held": 10}
    # The estimate says the calls wait for the morning: at least the night left, and why.
    assert progress.estimate_basis == "night_rest" and progress.resumes_at == local(7, 0, day=29)
    assert progress.estimated_seconds_left > (local(7, 0, day=29) - clock.now()).total_seconds()
    for _ in range(100):
        clock.advance(6)
        network.pump(clock.now())
        worker.tick()
    assert count(db, state=S.HELD) == 10
    with db.session() as s:  # only the missing child was called at night
        called = s.scalars(
            select(Delivery.action_id).where(Delivery.attempts > 0).where(Delivery.channel == Channel.VOICE)
        ).all()
    assert len(called) == 4 and night_id not in called
    clock.advance((local(7, 0, day=29) - clock.now()).total_seconds())
    report = worker.tick()
    assert report.released == 10 and report.placed >= 1
    assert count(db, state=S.HELD) == 0
