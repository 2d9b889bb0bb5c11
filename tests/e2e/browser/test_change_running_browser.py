"""Changing a running action in a real Chromium: an update (vervolgbericht) that reaches the
reached on their channel while the rest get the new text, and a widened circle that adds only
new participants; both in the live page's history and in the evaluation figures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser_support import login, screenshot
from seed_console import MARKT
from sqlalchemy import select

from actions.change import send_update
from actions.drafts import save_draft
from actions.request import ActionRequest
from actions.start import start_action
from config.clock import SystemClock
from db.models import Action, Channel, ControlRoom, Delivery, DeliveryKind, DeliveryState, Operator, Role

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

S = DeliveryState


def wait_until(page, condition, timeout: int = 20_000, what: str = "condition"):
    waited = 0
    while waited <= timeout:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"timed out after {timeout} ms waiting for {what}")


def start_vehicle_action(live_app) -> int:
    """A vehicle action by voice and SMS, 400 m around the Markt, started in the control room's
    quiet hours: the SMS go out at once (reached), the voice calls wait (not yet reached)."""
    settings = live_app.settings
    local = datetime.now(ZoneInfo(settings.timezone))
    with live_app.db.session() as s:
        room = s.scalars(select(ControlRoom)).one()
        room.quiet_hours_start = (local - timedelta(hours=1)).strftime("%H:%M")
        room.quiet_hours_end = (local + timedelta(hours=2)).strftime("%H:%M")
        centralist = s.scalars(select(Operator).where(Operator.role == Role.CENTRALIST)).one()
        request = ActionRequest(
            incident_type="vehicle",
            description={"vehicle_kind": "car", "colour": "blue", "plate": "12-ABC-3"},
            free_text="",
            lat=MARKT[0],
            lon=MARKT[1],
            location_label="Markt 1, Delft",
            radius_m=400,
            channels=["voice", "sms"],
            norms={"urgent_recent": True, "clear_description": True},
        )
        action = save_draft(s, request, centralist, room.id, settings)
        s.commit()
        start_action(s, action, centralist, SystemClock(), settings)
        live_app.worker.wake.set()
        return action.id


def alert_rows(live_app, action_id: int) -> list[tuple]:
    with live_app.db.session() as s:
        return s.execute(
            select(Delivery.participant_id, Delivery.channel, Delivery.target, Delivery.state).where(
                Delivery.action_id == action_id, Delivery.kind == DeliveryKind.ALERT
            )
        ).all()


def test_update_and_widen_a_running_action(page, live_app):
    action_id = start_vehicle_action(live_app)
    sms_sent = live_app.worker.senders["sms"].sent

    def alert_sms_sent():
        sms = [r for r in alert_rows(live_app, action_id) if r.channel == Channel.SMS]
        return sms and all(r.state in (S.SENT, S.DELIVERED, S.FAILED) for r in sms)

    wait_until(page, alert_sms_sent, what="the alert SMS sent")
    before = alert_rows(live_app, action_id)
    reached_sms = {r.target for r in before if r.channel == Channel.SMS and r.state in (S.SENT, S.DELIVERED)}
    held_voice = [r for r in before if r.channel == Channel.VOICE and r.state == S.HELD]
    assert reached_sms and held_voice, before
    assert all("omgeving Delft, rond de Markt" in m.text for m in sms_sent)  # the alert says where

    login(page, live_app, "centralist")
    page.goto(live_app.url(f"/actions/{action_id}"))
    assert "Nog niets gewijzigd" in page.inner_text("#wijzigingen")
    page.click("#change-link")
    page.wait_for_url(re.compile(rf".*/actions/{action_id}/change$"))

    # An update with nothing new is refused, and nothing typed is lost.
    page.click("#update-button")
    assert "niets nieuws" in page.inner_text("#vervolgbericht")
    assert page.input_value('input[name="d__vehicle__plate"]') == "12-ABC-3"

    # The update: a dent, and where it was seen heading.
    page.fill('input[name="d__vehicle__features"]', "een deuk in de linkerportier")
    page.fill('textarea[name="free_text"]', "Gezien richting het station.")
    screenshot(page, "change-01-update")
    page.click("#update-button")
    page.wait_for_url(re.compile(rf".*/actions/{action_id}(#wijzigingen)?$"))
    assert f"{len(reached_sms)} al bereikte" in page.inner_text("body")
    history = page.inner_text("#revision-history")
    assert "Vervolgbericht door Centralist de Vries" in history
    assert "deuk in de linkerportier" in page.inner_text(".preview-text")  # the message as it now is

    # The reached get the short update by SMS; the held voice calls will speak the new text.
    def update_sms():
        found = [m for m in sms_sent if "aanvulling op de oproep" in m.text]
        return found if len(found) == len(reached_sms) else None

    updates = wait_until(page, update_sms, what="the update SMS")
    assert {m.to for m in updates} == reached_sms
    # The live page follows the updates without a reload.
    n = len(reached_sms)
    progress = f'li[data-revision="1"] .r-progress:has-text("{n} van {n} bereikt")'
    page.wait_for_selector(progress, timeout=20_000)
    assert all("deuk in de linkerportier" in m.text and "richting het station" in m.text for m in updates)
    assert all("12-ABC-3" not in m.text for m in updates)  # only what is new
    with live_app.db.session() as s:
        action = s.get(Action, action_id)
        assert "een deuk in de linkerportier" in action.voice_text
        assert "Gezien richting het station" in action.voice_text
    assert [r for r in alert_rows(live_app, action_id) if r.state == S.HELD]  # still to come, new text

    # Widen the circle: only participants not asked before are added.
    page.click("#change-link")
    page.fill('input[name="radius_m"]', "900")
    page.click("#area-preview-button")
    added = int(page.inner_text("#area-added"))
    assert added > 0
    screenshot(page, "change-02-widen")
    page.click("#area-confirm-button")
    page.wait_for_url(re.compile(rf".*/actions/{action_id}(#wijzigingen)?$"))
    assert f"{added} nieuwe contactpunten worden benaderd" in page.inner_text("body")
    assert "Straal vergroot" in page.inner_text("#revision-history")
    assert "straal 400 → 900 m" in page.inner_text("#revision-history")
    after = alert_rows(live_app, action_id)
    contact_points = [(r.channel, r.target) for r in after]
    assert len(contact_points) == len(set(contact_points)) == len(before) + added
    old_people = {r.participant_id for r in before}
    new_people = {r.participant_id for r in after} - old_people
    assert new_people and all(
        r.participant_id not in old_people
        for r in after
        if (r.channel, r.target) not in set((b.channel, b.target) for b in before)
    )

    # The evaluation counts both changes.
    page.context.clear_cookies()
    login(page, live_app, "supervisor")
    page.goto(live_app.url("/evaluatie/"))
    assert page.inner_text("#fig-updates").strip() == "1"
    assert page.inner_text("#fig-area-changes").strip() == "1"
    assert f"{added} ontvangers erbij" in page.inner_text("#key-figures")
    # A change made elsewhere (the API, a colleague) appears on an open live page by itself.
    page.context.clear_cookies()
    login(page, live_app, "centralist")
    page.goto(live_app.url(f"/actions/{action_id}"))
    with live_app.db.session() as s:
        colleague = s.scalars(select(Operator).where(Operator.role == Role.SUPERVISOR)).first()
        action = s.get(Action, action_id)
        description = dict(action.description or {}) | {"features": "een deuk en een kras"}
        send_update(s, action, colleague, description, "", SystemClock(), live_app.settings)
    page.wait_for_selector('li[data-revision="3"]:has-text("Vervolgbericht")', timeout=20_000)
    # The one refused submission (422, nothing new) is the only error the browser saw.
    assert [e for e in page.console_errors if "422" not in e] == []
