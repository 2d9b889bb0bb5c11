"""WCAG 2.1 AA in a real Chromium (issue 13, items 6-8): axe-core finds no violation in the
main page states of the console and the portal; a refused submit moves the focus to the error
summary and ties each error to its field; errors while typing are announced; the unticked norm
is marked; the maps' zoom buttons are Dutch and work with Space; the focus ring shows on a
radio's label. The browser runs in another time zone (New York) than the control room, so a
time the page writes in the browser must still be the control room's."""

from __future__ import annotations

import re

import pytest
from axe_check import assert_accessible
from browser_support import login, screenshot
from callback_caller import phone_in_sighting, spoken_wav
from seed_console import WITNESS_NUMBER
from sqlalchemy import select

from config.local_time import format_moment
from db.models import Sighting

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def far_page(browser):
    """A page whose browser clock is in New York (UTC-5), not in the control room's zone."""
    context = browser.new_context(
        locale="nl-NL", timezone_id="America/New_York", viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def wait_until(page, condition, what: str, timeout: int = 20_000):
    waited = 0
    while waited <= timeout:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"timed out waiting for {what}")


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.id : ''")


def test_the_console_is_accessible_across_its_states(far_page, live_app, tmp_path):
    page = far_page
    # Tiles from the app itself, so the map shows its attribution as it does in production.
    live_app.settings.web.map_tiles_url = "/static/favicon.svg?tile={z}-{x}-{y}"
    page.goto(live_app.url("/login"))
    assert_accessible(page, "login")
    login(page, live_app, "centralist")
    assert_accessible(page, "actions list")

    # An empty submit is refused: the focus goes to the error summary, each error names its field.
    page.goto(live_app.url("/actions/new"))
    assert_accessible(page, "new action form")
    page.click("#submit-action")
    page.wait_for_selector("#form-errors")
    assert focused_id(page) == "form-errors"
    radio = page.locator("#f-incident_type")
    assert radio.get_attribute("aria-invalid") == "true"
    assert page.inner_text("#" + radio.get_attribute("aria-describedby")).strip() != ""
    assert_accessible(page, "refused empty form")

    # The focus ring is on the radio's label, from the keyboard.
    page.focus("#f-incident_type")
    page.keyboard.press("Space")
    ring = page.locator("#f-incident_type").evaluate(
        "el => { const s = getComputedStyle(el.closest('label'));"
        " return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    assert ring == ["solid", "3px", "rgb(29, 95, 168)"], ring

    # An error while typing is tied to its field and announced.
    page.select_option('select[name="d__suspect__gender"]', "male")
    page.fill('input[name="d__suspect__age"]', "250")
    age = page.locator('input[name="d__suspect__age"]')
    wait_until(page, lambda: age.get_attribute("aria-invalid") == "true", "the age marked invalid")
    message = page.inner_text("#" + age.get_attribute("aria-describedby")).strip()
    assert message and message in page.inner_text("#form-announcer")
    page.fill('input[name="d__suspect__age"]', "30")
    wait_until(page, lambda: age.get_attribute("aria-invalid") is None, "the age valid again")

    # The map: Dutch zoom buttons that Space presses.
    zoom_in = page.locator(".leaflet-control-zoom-in")
    assert zoom_in.get_attribute("title") == "Inzoomen"
    assert page.locator(".leaflet-control-zoom-out").get_attribute("title") == "Uitzoomen"
    scale = page.inner_text(".leaflet-control-scale-line")
    zoom_in.focus()
    page.keyboard.press("Space")
    wait_until(page, lambda: page.inner_text(".leaflet-control-scale-line") != scale, "a zoom by Space")
    assert page.locator(".leaflet-control-attribution a").count() >= 1

    # Submitted without the second norm: that norm is marked, and the focus is on the summary.
    page.fill('input[name="d__suspect__clothing"]', "een blauwe jas")
    page.fill('input[name="postcode"]', "2611GN")
    page.fill('input[name="house_number"]', "1")
    page.click("#geocode-button")
    wait_until(page, lambda: page.input_value('input[name="lat"]') != "", "a geocoded point")
    page.check('input[name="norm_urgent_recent"]')
    page.click("#submit-action")
    page.wait_for_selector(".norm-missing")
    assert page.locator(".norm-missing").get_attribute("data-norm") == "clear_description"
    assert focused_id(page) == "form-errors"
    page.wait_for_timeout(800)  # the preview runs once more: the mark stays
    assert page.locator('.norm-missing input[aria-invalid="true"]').count() == 1
    assert_accessible(page, "refused form with a missing norm")
    screenshot(page, "a11y-missing-norm")
    page.check('input[name="norm_clear_description"]')
    assert page.locator(".norm-missing").count() == 0
    page.click("#submit-action")

    page.wait_for_url(re.compile(r".*/actions/\d+/confirm$"))
    assert_accessible(page, "confirmation")
    page.click("#start-button")
    page.wait_for_url(re.compile(r".*/actions/\d+$"))
    assert_accessible(page, "live action")

    # A sighting in the inbox: its note is labelled; its time is the control room's.
    recording = spoken_wav(tmp_path / "sighting.wav", "Ik zie hem bij de Oude Kerk.")
    phone_in_sighting(live_app.db, live_app.settings, WITNESS_NUMBER, "0800-0011", recording)
    card = page.wait_for_selector(".sighting")
    with live_app.db.session() as s:
        received = s.scalar(select(Sighting.received_at).order_by(Sighting.id.desc()))
    assert card.query_selector(".s-time").inner_text() == format_moment(
        received, live_app.settings.timezone, "time_seconds"
    )
    assert page.get_by_label("Notitie bij deze melding (optioneel)").count() == 1
    assert_accessible(page, "live action with a sighting")

    # Outcome choices of a suspect; the ended action.
    options = page.locator('select[name="outcome"] option').all_inner_texts()
    assert "Verdachte aangehouden" in options and "Voertuig gevonden" not in options
    page.select_option('select[name="outcome"]', "arrested")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#end-button")
    page.wait_for_selector("#outcome-label")
    assert_accessible(page, "ended action")

    # The supervisor's evaluation, and the participants' pages.
    page.click("text=Uitloggen")
    login(page, live_app, "supervisor")
    page.goto(live_app.url("/evaluatie/"))
    assert_accessible(page, "evaluation")
    for path, state in (("/aanmelden", "sign-up form"), ("/mijn", "self-service log-in")):
        page.goto(live_app.url(path))
        assert_accessible(page, state)
