"""The start form in a real Chromium shows how the voice reads typed text (issue 16): the
readings appear under the spoken message while the centralist types, and go when the text
reads as typed."""

from __future__ import annotations

import pytest
from browser_support import login
from seed_console import MARKT

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _wait(page, condition, what: str, timeout_ms: int = 15_000):
    """Poll from Python: the page's CSP forbids eval, which page.wait_for_function needs."""
    for _ in range(timeout_ms // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_form_shows_how_the_voice_reads_the_free_text(page, live_app):
    login(page, live_app, "centralist")
    page.goto(live_app.url("/actions/new"))
    page.check('input[name="incident_type"][value="vehicle"]')
    page.fill('input[name="d__vehicle__plate"]', "GH-123-J")
    page.check('input[name="norm_urgent_recent"]')
    page.check('input[name="norm_clear_description"]')
    page.fill('input[name="lat"]', str(MARKT[0]))
    page.fill('input[name="lon"]', str(MARKT[1]))
    page.fill('textarea[name="free_text"]', "Kenteken gh 123 j, gezien op 28-11")
    readings = page.locator("#pv-readings")
    _wait(page, readings.is_visible, "the spoken readings")
    text = page.inner_text("#pv-readings-list")
    assert "Vrije tekst (optioneel): “Kenteken gh 123 j, gezien op 28-11”" in text
    assert (
        "Wordt uitgesproken als: “Kenteken gee haa, één twee drie, jee, gezien op achtentwintig november”"
        in text
    )

    page.fill('textarea[name="free_text"]', "Mogelijk gestolen")
    _wait(page, lambda: not readings.is_visible(), "the readings to go")
    assert not page.console_errors, page.console_errors
