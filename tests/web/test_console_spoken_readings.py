"""The start form shows how the voice reads what the centralist typed (issue 16): the
preview JSON carries the readings, the form's script shows them as "Wordt uitgesproken als",
and the confirmation page before the start lists them, so a wrong guess is seen in time."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest
from console_population import MARKT, add_participants
from console_testing import csrf_from, login

TYPED = "Kenteken gh 123 j, gezien op 28-11 om 14.30 uur t.h.v. de A13"
SPOKEN = (
    "Kenteken gee haa, één twee drie, jee, gezien op achtentwintig november om veertien uur dertig "
    "ter hoogte van de aa dertien"
)
VEHICLE = {
    "incident_type": "vehicle",
    "d__vehicle__vehicle_kind": "car",
    "d__vehicle__colour": "blue",
    "d__vehicle__plate": "GH-123-J",
    "free_text": TYPED,
    "lat": str(MARKT[0]),
    "lon": str(MARKT[1]),
    "radius_m": "1000",
    "channels": ["voice", "sms"],
    "norm_urgent_recent": "on",
    "norm_clear_description": "on",
}


@pytest.fixture
def console(client, staff, db):
    add_participants(db, 3)
    login(client, "centralist")
    return client, csrf_from(client.get("/actions/new").get_data(as_text=True))


def _readings(page: str) -> list[str]:
    block = re.search(r'<div class="spoken-readings[^"]*" id="confirm-readings">(.*?)</div>', page, re.S)
    assert block, "no readings block on the page"
    return [htmllib.unescape(m) for m in re.findall(r"Wordt uitgesproken als: “([^”]*)”", block.group(1))]


def test_the_preview_json_says_how_the_voice_reads_the_typed_text(console):
    client, token = console
    preview = client.post("/actions/preview", data={**VEHICLE, "csrf_token": token}).get_json()
    assert preview["ok"], preview
    assert {"field": "free_text", "written": TYPED, "spoken": SPOKEN} in preview["spoken_readings"]
    # The plate field is structured: it is spoken right by construction and not listed.
    assert all(r["field"] != "plate" for r in preview["spoken_readings"])


def test_the_form_has_the_place_and_the_script_fills_it(console):
    client, _ = console
    page = client.get("/actions/new").get_data(as_text=True)
    assert 'id="pv-readings"' in page and 'id="pv-readings-list"' in page
    script = (Path(__file__).parents[2] / "web/static/js/action_form.js").read_text()
    assert "data.spoken_readings" in script and "Wordt uitgesproken als: " in script


def test_the_confirmation_page_lists_each_reading_before_the_start(console):
    client, token = console
    response = client.post("/actions/new", data={**VEHICLE, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _readings(page) == [SPOKEN]
    assert "“" + TYPED + "”" in htmllib.unescape(page)


def test_no_readings_when_the_voice_reads_the_text_as_typed(console):
    client, token = console
    response = client.post(
        "/actions/new", data={**VEHICLE, "free_text": "Mogelijk gestolen", "csrf_token": token}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="spoken-readings hidden" id="confirm-readings"' in page
    assert _readings(page) == []
