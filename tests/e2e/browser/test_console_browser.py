"""The centralist's console in a real Chromium: a whole action on the simulator, and the
guards (log-in, CSRF, roles, malicious input)."""

from __future__ import annotations

import re

import pytest
from browser_support import login, screenshot
from callback_caller import phone_in_sighting, spoken_wav
from seed_console import WITNESS_NUMBER

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def figure(page, element_id: str) -> int:
    text = page.inner_text(f"#{element_id}").strip()
    return int(text) if text.isdigit() else -1


def wait_until(page, condition, timeout: int = 20_000, what: str = "condition"):
    """Poll from Python: the page's CSP forbids eval, which page.wait_for_function needs."""
    waited = 0
    while waited <= timeout:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"timed out after {timeout} ms waiting for {what}")


def wait_for_number(page, element_id: str, at_least: int = 1, timeout: int = 20_000) -> int:
    wait_until(page, lambda: figure(page, element_id) >= at_least, timeout, f"#{element_id} >= {at_least}")
    return figure(page, element_id)


def audio_ready(page, selector: str) -> bool:
    return page.locator(selector).first.evaluate("el => el.readyState >= 1")


def test_a_whole_action_in_the_browser(page, live_app, tmp_path):
    page.goto(live_app.url("/"))
    assert "/login" in page.url
    screenshot(page, "01-login")
    login(page, live_app, "centralist")
    page.click("#new-action-button")
    page.wait_for_url(live_app.url("/actions/new"))

    # The incident and its description.
    page.check('input[name="incident_type"][value="suspect"]')
    assert page.input_value('input[name="radius_m"]') == str(live_app.settings.radius_by_incident["suspect"])
    page.select_option('select[name="d__suspect__gender"]', "male")
    page.fill('input[name="d__suspect__age"]', "30")
    page.fill('input[name="d__suspect__hair"]', "kort zwart haar")
    page.fill('input[name="d__suspect__clothing"]', "een blauwe jas en een spijkerbroek")
    page.select_option('select[name="d__suspect__transport"]', "on_foot")

    # Location by address (geocoded through the gazetteer).
    page.fill('input[name="postcode"]', "2611 gn")
    page.fill('input[name="house_number"]', "1")
    page.click("#geocode-button")
    wait_until(page, lambda: page.input_value('input[name="lat"]') != "", what="geocoded point")
    assert page.input_value('input[name="location_label"]') == "Markt 1, Delft"
    assert page.input_value('input[name="lat"]').startswith("52.0116")
    by_address = wait_for_number(page, "pv-total")
    assert "blauwe jas" in page.inner_text("#pv-text")
    assert "tekens" in page.inner_text("#pv-sms-count")
    assert page.locator("path.leaflet-interactive").count() == 1  # the circle is drawn

    # Location by a click on the map: the point and the counts follow.
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5 + 40, box["y"] + box["height"] * 0.5)
    wait_until(
        page,
        lambda: page.input_value('input[name="location_label"]').startswith("Kaartpunt"),
        what="map click",
    )
    clicked_lat = page.input_value('input[name="lat"]')
    page.fill('input[name="radius_m"]', "1200")
    page.wait_for_timeout(800)
    by_click = wait_for_number(page, "pv-total")
    assert by_click >= 1 and clicked_lat != "52.011630"
    voice = figure(page, "pv-voice")
    assert voice >= 1 and by_click >= by_address - 10

    # Listen to the message (rendered by espeak-ng, served by the authenticated endpoint).
    page.click("#audio-button")
    wait_until(page, lambda: audio_ready(page, "#pv-audio"), 30_000, "rendered alert audio")

    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.wait_for_timeout(600)
    shown_total = wait_for_number(page, "pv-total")
    screenshot(page, "02-new-action-preview")
    page.click("#submit-action")

    # One confirmation that states the numbers, equal to the preview.
    page.wait_for_url(re.compile(r".*/actions/\d+/confirm$"))
    summary = page.inner_text("#confirm-summary")
    assert f"{shown_total} contactpunten" in summary
    screenshot(page, "03-confirm")
    page.click("#start-button")
    page.wait_for_url(re.compile(r".*/actions/\d+$"))
    action_id = int(page.url.rsplit("/", 1)[1])

    # The counts rise while the simulator runs the wave (server-sent events, no reload).
    assert figure(page, "f-recipients") == shown_total
    first = figure(page, "f-reached")
    reached = wait_for_number(page, "f-reached", at_least=max(first, 0) + 3, timeout=30_000)
    assert reached > first
    page.wait_for_selector("#state-table tbody tr")
    assert "live" in page.inner_text("#live-state")
    screenshot(page, "04-live-action")

    # A participant phones the call-back line; the sighting appears in the inbox, playable.
    recording = spoken_wav(
        tmp_path / "sighting.wav",
        "Ik zie een man met een blauwe jas bij de Oude Kerk, hij loopt richting het station.",
    )
    nodes = phone_in_sighting(live_app.db, live_app.settings, WITNESS_NUMBER, "0800-0011", recording)
    assert "thanks" in nodes
    card = page.wait_for_selector(".sighting", timeout=15_000)
    text = card.inner_text()
    assert "+316****0000" in text and "deelnemer" in text and "afstand" in text
    assert WITNESS_NUMBER not in page.content()
    wait_until(page, lambda: audio_ready(page, ".sighting audio"), 15_000, "sighting audio")
    duration = page.locator(".sighting audio").evaluate("el => el.duration")
    assert duration > 1.0
    screenshot(page, "05-sighting-in-inbox")

    # Mark it handled with a note.
    page.fill('.sighting input[name="note"]', "Eenheid 12 gaat kijken")
    page.click('.sighting button[type="submit"]')
    page.wait_for_selector(".sighting.handled")
    assert "Eenheid 12 gaat kijken" in page.inner_text(".sighting")

    # End the action with an outcome; the outcome message is previewed first.
    page.select_option('select[name="outcome"]', "arrested")
    page.fill('#end-form input[name="note"]', "")
    page.wait_for_selector("#outcome-preview:not(.hidden)")
    assert "aangehouden" in page.inner_text("#outcome-preview")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#end-button")
    page.wait_for_selector("#outcome-label")
    assert "Verdachte aangehouden" in page.inner_text("#outcome-label")
    assert page.inner_text("#status-badge") == "beëindigd"
    screenshot(page, "06-action-ended")

    page.goto(live_app.url("/"))
    row = page.inner_text(f'tr[data-action-id="{action_id}"]')
    assert "Verdachte aangehouden" in row and "beëindigd" in row
    screenshot(page, "07-actions-overview")
    assert page.console_errors == [], page.console_errors


def test_unauthenticated_access_is_redirected_to_login(page, live_app):
    for path in ("/", "/actions/new", "/audit"):
        page.goto(live_app.url(path))
        assert "/login" in page.url
    assert "TRAININGSMODUS" in page.inner_text(".training-banner")


def test_posts_without_csrf_token_are_refused(page, live_app):
    login(page, live_app, "centralist")
    response = page.request.post(
        live_app.url("/actions/new"),
        form={
            "incident_type": "suspect",
            "d__suspect__clothing": "een rode jas",
            "lat": "52.0116",
            "lon": "4.3571",
            "radius_m": "1000",
            "channels": "voice",
            "norm_urgent_recent": "on",
            "norm_clear_description": "on",
        },
    )
    assert response.status == 400
    assert "beveiligingscode" in response.text()
    assert page.request.post(live_app.url("/logout")).status == 400
    page.goto(live_app.url("/"))
    assert "/login" not in page.url  # still logged in: the forged logout did nothing


def test_wrong_role_is_refused(page, live_app):
    login(page, live_app, "centralist")
    assert "Logboek" not in page.inner_text(".mainnav")
    response = page.goto(live_app.url("/audit"))
    assert response.status == 403
    assert "geen toegang" in page.inner_text("main")
    screenshot(page, "08-wrong-role")
    page.click("text=Uitloggen")
    login(page, live_app, "supervisor")
    assert page.goto(live_app.url("/audit")).status == 200
    assert "ingelogd" in page.inner_text("#audit-table")


def test_malicious_description_is_inert_and_refused(page, live_app):
    login(page, live_app, "centralist")
    page.goto(live_app.url("/actions/new"))
    page.check('input[name="incident_type"][value="suspect"]')
    script = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
    page.fill('input[name="d__suspect__clothing"]', script)
    page.evaluate("document.querySelector('textarea[name=free_text]').value = 'lang '.repeat(1000)")
    page.fill('input[name="lat"]', "52.0116")
    page.fill('input[name="lon"]', "4.3571")
    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.click("#submit-action")
    page.wait_for_selector("#form-errors")
    body = page.inner_text("main")
    assert "niet-toegestane tekens" in body
    assert "Vrije tekst is te lang" in body
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("main img[src=x]").count() == 0
    assert page.input_value('input[name="d__suspect__clothing"]') == script  # shown back as text
    assert "/actions/new" in page.url
    screenshot(page, "09-malicious-input-refused")


def test_oversized_action_needs_a_supervisor_on_the_spot(page, live_app):
    live_app.settings.max_radius_without_supervisor_m = 1000
    login(page, live_app, "centralist")
    page.goto(live_app.url("/actions/new"))
    page.check('input[name="incident_type"][value="vehicle"]')
    assert page.input_value('input[name="radius_m"]') == "3000"
    page.select_option('select[name="d__vehicle__colour"]', "red")
    page.fill('input[name="d__vehicle__plate"]', "12-ABC-3")
    page.fill('input[name="lat"]', "52.0116")
    page.fill('input[name="lon"]', "4.3571")
    page.dispatch_event('input[name="lon"]', "change")
    page.locator("#pv-supervisor:not(.hidden)").wait_for()
    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.click("#submit-action")
    page.wait_for_url(re.compile(r".*/confirm$"))
    assert "Supervisor vereist" in page.inner_text("main")
    # A wrong supervisor password: refused, nothing starts.
    page.fill('input[name="supervisor_username"]', "supervisor")
    page.fill('input[name="supervisor_password"]', "wrong")
    page.click("#start-button")
    page.wait_for_url(re.compile(r".*/confirm$"))
    assert "Bevestiging door supervisor mislukt" in page.inner_text(".flashes")
    # "Wijzigen": back to the form with the draft's values, smaller radius, no supervisor needed.
    page.click("text=Wijzigen")
    page.wait_for_url(re.compile(r".*/edit$"))
    assert page.input_value('input[name="d__vehicle__plate"]') == "12-ABC-3"
    page.fill('input[name="radius_m"]', "800")
    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.click("#submit-action")
    page.wait_for_url(re.compile(r".*/confirm$"))
    assert "Supervisor vereist" not in page.inner_text("main")
    page.click("text=Wijzigen")
    page.fill('input[name="radius_m"]', "3000")
    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.click("#submit-action")
    page.wait_for_url(re.compile(r".*/confirm$"))
    page.fill('input[name="supervisor_username"]', "supervisor")
    page.fill('input[name="supervisor_password"]', "burgernet-demo")
    screenshot(page, "10-supervisor-confirmation")
    page.click("#start-button")
    page.wait_for_url(re.compile(r".*/actions/\d+$"))
    assert "Supervisor Jansen (supervisor)" in page.inner_text("main")
    page.click("text=Uitloggen")
    login(page, live_app, "supervisor")
    page.goto(live_app.url("/audit"))
    log = page.inner_text("#audit-table")
    assert "bevestigd door supervisor" in log and "actie gewijzigd" in log and "inloggen mislukt" in log
