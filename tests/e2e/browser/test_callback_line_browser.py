"""The call-back view in a real Chromium: it updates by itself as callers arrive in the control
room's queue (the real call-back flow walked through the engine, as the FastAGI renderer
does), are answered, or give up; a missed caller is called back with one click."""

from __future__ import annotations

import pytest
from browser_support import login, screenshot
from sqlalchemy import select

from callback_line.queue import note_answered
from config.clock import SystemClock
from db.models import Action, ActionStatus, ControlRoom, IncidentType, Operator
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import CallEnv, Engine, Input, QueueOutcome, QueueStep

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ENGINE = Engine(CALLBACK_FLOW)


def running_action_with_queue(db) -> None:
    with db.transaction() as s:
        room = s.scalars(select(ControlRoom)).first()
        room.callback_queue = "burgernet-callback"
        centralist = s.scalars(select(Operator).where(Operator.username == "centralist")).one()
        s.add(
            Action(
                control_room_id=room.id,
                incident_type=IncidentType.SUSPECT,
                description={"clothing": "rode jas"},
                voice_text="Kijk uit naar een man met een rode jas.",
                location_label="Markt, Delft",
                lat=52.0116,
                lon=4.3571,
                radius_m=1000,
                channels=["voice"],
                status=ActionStatus.RUNNING,
                started_by_id=centralist.id,
                started_at=SystemClock().now(),
            )
        )


def join_queue(live_app, caller: str, call_id: str):
    """A caller phones the call-back number and waits in the queue; returns the waiting turn."""
    with live_app.db.session() as session:
        env = call_env(live_app, session, caller, call_id)
        turn = ENGINE.start(env)
        while not isinstance(turn.step, QueueStep):
            turn = ENGINE.resume(turn.state, Input.done(), env)
        session.commit()
        return turn


def call_env(live_app, session, caller: str, call_id: str) -> CallEnv:
    return CallEnv(
        session=session,
        clock=SystemClock(),
        settings=live_app.settings,
        provider="asterisk",
        provider_call_id=call_id,
        caller_number=caller,
        dialed_number="08000011",
    )


def rows_of(page, table: str) -> list[str]:
    return [t.strip() for t in page.locator(f"#{table} tbody tr:not(.empty)").all_inner_texts()]


def wait_for_rows(page, table: str, count: int) -> list[str]:
    for _ in range(100):
        rows = rows_of(page, table)
        if len(rows) == count:
            return rows
        page.wait_for_timeout(100)
    raise AssertionError(f"#{table}: {rows_of(page, table)}, wanted {count} rows")


def test_the_call_back_view_follows_the_queue_live(page, live_app):
    running_action_with_queue(live_app.db)
    login(page, live_app, "centralist")
    page.click("text=Terugbellijn")
    page.wait_for_url(live_app.url("/terugbellen"))
    assert "Niemand wacht." in page.inner_text("#waiting-table")

    # Two callers arrive: the page shows them waiting, in order, without a reload.
    join_queue(live_app, "+31612340001", "call-1")
    second = join_queue(live_app, "0612340002", "call-2")
    waiting = wait_for_rows(page, "waiting-table", 2)
    assert "+31612340001" in waiting[0] and "+31612340002" in waiting[1]
    assert page.inner_text("#live-state") == "live"
    screenshot(page, "callback-01-waiting")

    # The PBX says a centralist took the first caller: talking, no longer waiting.
    with live_app.db.session() as s:
        note_answered(s, "asterisk", "call-1", "PJSIP/burgernet-centralist", SystemClock().now())
    talking = wait_for_rows(page, "talking-table", 1)
    assert "+31612340001" in talking[0] and "PJSIP/burgernet-centralist" in talking[0]
    wait_for_rows(page, "waiting-table", 1)

    # The second caller gives up: missed, with a call-back button.
    with live_app.db.session() as session:
        ENGINE.hangup(
            second.state,
            call_env(live_app, session, "0612340002", "call-2"),
            Input.queued(QueueOutcome.HANGUP, 33.0),
        )
        session.commit()
    missed = wait_for_rows(page, "missed-table", 1)
    assert "+31612340002" in missed[0] and "33 s" in missed[0]
    wait_for_rows(page, "waiting-table", 0)
    screenshot(page, "callback-02-missed")

    page.click("#missed-table button.call-back")
    page.wait_for_url(live_app.url("/terugbellen"))
    assert "Uw toestel gaat over" in page.inner_text(".flashes")
    assert "teruggebeld" in wait_for_rows(page, "missed-table", 1)[0]
    assert not page.console_errors
