"""Training covers the whole loop (issue 13, item 5), in a real Chromium: while a training action
runs on the simulated network, simulated participants who were reached phone the call-back line
(the scheduler's job, through the real call-back flow), their spoken sightings arrive in the
inbox marked as simulated and play; the trainer makes one more caller call, who is put through."""

from __future__ import annotations

import pytest
from browser_support import login, screenshot
from seed_console import MARKT
from sqlalchemy import select

from actions.drafts import save_draft
from actions.request import ActionRequest
from actions.start import start_action
from db.models import Operator, Sighting
from dialer.jobs import Job
from dialer.leadership import ClusterScheduler
from dialer.simulated_callbacks import simulated_callbacks_job

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHILD = {"gender": "male", "age": "8", "clothing": "een rode jas", "hair": "blond haar"}


def wait_until(page, condition, timeout: int = 30_000, what: str = "condition"):
    """Poll from Python: the page's CSP forbids eval, which page.wait_for_function needs."""
    waited = 0
    while waited <= timeout:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"timed out after {timeout} ms waiting for {what}")


def start_training_action(live_app) -> int:
    """A missing child, started as the console starts it (actions use cases), on the simulator."""
    settings = live_app.settings
    with live_app.db.session() as s:
        centralist = s.scalars(select(Operator).where(Operator.username == "centralist")).one()
        request = ActionRequest(
            incident_type="missing_child",
            description=CHILD,
            free_text="",
            lat=MARKT[0],
            lon=MARKT[1],
            location_label="Markt 1, Delft",
            radius_m=1500,
            channels=["voice"],
        )
        action = save_draft(s, request, centralist, centralist.control_room_id, settings)
        s.commit()
        clock = live_app.app.extensions["burgernet.clock"]
        start_action(s, action, centralist, clock, settings, override=True)
        assert action.training
        return action.id


def test_simulated_call_backs_arrive_in_the_inbox_and_play(page, live_app):
    settings = live_app.settings
    callbacks = settings.dialer.simulator.callbacks
    callbacks.rate, callbacks.delay_min_s, callbacks.delay_mean_s = 1.0, 1.0, 1.0
    callbacks.record_share, callbacks.transfer_share, callbacks.hang_up_share = 1.0, 0.0, 0.0
    callbacks.max_per_action = 2
    settings.dialer.scheduler_renew_s = 0.3
    scheduler = ClusterScheduler(
        live_app.db,
        settings,
        live_app.app.extensions["burgernet.clock"],
        jobs=(Job("simulated_callbacks", simulated_callbacks_job, 0.3),),
    ).start()
    try:
        action_id = start_training_action(live_app)
        login(page, live_app, "centralist")
        page.goto(live_app.url(f"/actions/{action_id}"))

        # Participants the simulator reached call back; their sightings arrive live, simulated.
        wait_until(page, lambda: page.locator(".sighting").count() >= 2, what="two simulated call-backs")
        card = page.locator(".sighting").first
        assert card.locator(".s-simulated").is_visible()
        assert "gesimuleerd" in card.inner_text()
        assert "deelnemer" in card.inner_text()
        audio = card.locator("audio")
        wait_until(page, lambda: audio.evaluate("el => el.readyState >= 1"), what="the recording's metadata")
        assert audio.evaluate("el => el.duration") > 1.0  # spoken words, not a click
        source = audio.get_attribute("src")
        served = page.request.get(live_app.url(source))
        assert served.status == 200 and served.headers["content-type"].startswith("audio/wav")
        assert served.body()[:4] == b"RIFF"
        audio.evaluate("el => { el.muted = true; el.play(); }")
        wait_until(page, lambda: audio.evaluate("el => el.currentTime > 0"), what="the recording playing")
        screenshot(page, "training-01-simulated-callbacks")

        # The trainer makes one more participant call, who asks for the centralist: put through.
        assert page.locator("#training-callback").is_visible()
        page.select_option("#training-choice", "transfer")
        page.fill("#training-text", "Ik zie een jongen met een rode jas bij het station.")
        page.click("#training-callback-button")
        page.wait_for_url(lambda url: url.endswith("#meldingen"))
        assert "doorverbonden met de meldkamer" in page.inner_text(".flash-success")
        wait_until(page, lambda: page.locator(".sighting").count() >= 3, what="the trainer's caller")
        transferred = page.locator(".sighting", has_text="doorverbonden met de meldkamer").first
        assert transferred.locator(".s-simulated").is_visible()
        screenshot(page, "training-02-trainer-callback")
    finally:
        scheduler.stop(timeout_s=10)

    with live_app.db.session() as s:
        rows = s.scalars(select(Sighting).where(Sighting.action_id == action_id)).all()
    assert len(rows) == 3 and all(row.provider == "simulator" for row in rows)
    assert sum(1 for row in rows if row.transferred) == 1
    assert sum(1 for row in rows if row.recording_status == "complete") == 2
    assert page.console_errors == []
