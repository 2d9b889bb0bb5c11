"""Two actions running at once on one trunk, in a real Chromium: the control room's overview
shows both progressing (refreshing itself), each opens from there, and the live page says how
the lines are shared and with which action."""

from __future__ import annotations

import re

import pytest
from browser_support import login, screenshot
from seed_console import MARKT
from sqlalchemy import select, update

from actions.wave import launch_wave
from config.clock import SystemClock
from db.models import Action, ActionStatus, IncidentType, Operator, Trunk

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def wait_until(page, condition, timeout: int = 20_000, what: str = "condition"):
    """Poll from Python: the page's CSP forbids eval, which page.wait_for_function needs."""
    waited = 0
    while waited <= timeout:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(200)
        waited += 200
    raise AssertionError(f"timed out after {timeout} ms waiting for {what}")


def start(live_app, incident: IncidentType, description: dict) -> int:
    with live_app.db.session() as s:
        operator = s.scalars(select(Operator).where(Operator.username == "centralist")).one()
        action = Action(
            control_room_id=operator.control_room_id,
            incident_type=incident,
            description=description,
            lat=MARKT[0],
            lon=MARKT[1],
            radius_m=1500,
            status=ActionStatus.DRAFT,
            channels=["voice"],
            created_by_id=operator.id,
        )
        s.add(action)
        s.flush()
        launch_wave(s, action, operator, SystemClock(), live_app.settings)
        return action.id


def reached(page, action_id: int) -> int:
    text = page.inner_text(f'article[data-action-id="{action_id}"] .o-reached')
    return int(text.split()[0])


def test_two_running_actions_progress_side_by_side_and_share_the_lines(page, live_app):
    # A small trunk, so both waves take a while and must share it.
    with live_app.db.transaction() as s:
        s.execute(update(Trunk).values(max_channels=3, cps=2.0))
    child = start(
        live_app, IncidentType.MISSING_CHILD, {"gender": "female", "age": "7", "clothing": "roze jas"}
    )
    vehicle = start(live_app, IncidentType.VEHICLE, {"colour": "red", "plate": "gh123j"})
    login(page, live_app, "centralist")

    # The overview: both running actions, each with its share of the lines.
    for action_id in (child, vehicle):
        page.wait_for_selector(f'#running-overview article[data-action-id="{action_id}"]')
    card = page.inner_text(f'article[data-action-id="{vehicle}"]')
    assert "Voertuig" in card and "gedeeld met 1 andere actie" in card
    shares = {
        a: int(re.search(r"(\d+)%", page.inner_text(f'article[data-action-id="{a}"] .o-share')).group(1))
        for a in (child, vehicle)
    }
    assert shares[child] > shares[vehicle] >= 20
    # Both progress, without a reload: the overview refreshes itself.
    before = {a: reached(page, a) for a in (child, vehicle)}
    wait_until(
        page,
        lambda: all(reached(page, a) > before[a] for a in (child, vehicle)),
        30_000,
        "both actions reaching people",
    )
    assert "bijgewerkt" in page.inner_text("#overview-state")
    screenshot(page, "concurrent-01-overview")

    # The vehicle's live page opens from the overview and shows with which action it shares.
    page.click(f'article[data-action-id="{vehicle}"] h3 a')
    page.wait_for_url(re.compile(rf".*/actions/{vehicle}$"))
    page.wait_for_selector("#sharing-table:not([hidden]) tbody tr")
    summary = page.inner_text("#sharing-summary")
    assert "gedeeld met 1 andere actie" in summary and "minstens 20%" in summary
    rows = page.inner_text("#sharing-table tbody")
    assert "Deze actie" in rows and f"Actie {child}: Vermist kind" in rows
    assert "Schatting" in page.inner_text("#eta-basis")
    page.click(f'#sharing-table a:text("Actie {child}")')
    page.wait_for_url(re.compile(rf".*/actions/{child}$"))
    page.wait_for_selector(f'#sharing-table tbody tr[data-action-id="{vehicle}"]')
    screenshot(page, "concurrent-02-live-sharing")
    assert page.console_errors == [], page.console_errors
