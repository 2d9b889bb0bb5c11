"""The console, the JSON API and the CLI start an action through one function
(actions.start.start_action): the same rule refuses, with the same Dutch words, at each door."""

from __future__ import annotations

import html
import re

import pytest
from console_population import MARKT, add_participants
from console_testing import csrf_from, login
from sqlalchemy import select

import actions.cli
import actions.start
import web.api
import web.console.confirm
from actions.drafts import save_draft
from actions.norms import norms_message
from actions.request import ActionRequest
from app import cli
from db.models import Action, ActionStatus, Operator
from tests.support.cli import cli_runner
from web.auth import issue_api_token

SUPERVISOR_NEEDED = "Deze actie is groter dan de grens: een supervisor moet bevestigen."
NORMS_MISSING = norms_message(["urgent_recent", "clear_description"])
VEHICLE = {"vehicle_kind": "car", "colour": "red", "make": "Volkswagen"}


@pytest.fixture
def doors(app, client, staff, db):
    """(console, api, cli): each starts an action in its own way and returns the Dutch refusal."""
    add_participants(db, 12)
    login(client, "centralist")
    token = csrf_from(client.get("/actions/new").get_data(as_text=True))
    with db.transaction() as s:
        api_token = issue_api_token(s, s.get(Operator, staff.centralist_id))
    headers = {"Authorization": f"Bearer {api_token}"}
    runner = cli_runner(app)

    def console(action_id: int) -> str:
        page = client.get(f"/actions/{action_id}/confirm").get_data(as_text=True)
        total = re.search(r'name="expected_total" value="(\d+)"', page).group(1)
        response = client.post(
            f"/actions/{action_id}/start", data={"expected_total": total, "csrf_token": token}
        )
        assert response.headers["Location"].endswith(f"/actions/{action_id}/confirm")
        return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))

    def api(action_id: int) -> str:
        read = client.get(f"/api/v1/actions/{action_id}", headers=headers).get_json()["action"]
        assert read["status"] == "draft"
        preview = client.post(
            "/api/v1/preview",
            headers=headers,
            json={
                "incident_type": "vehicle",
                "description": VEHICLE,
                "radius_m": 1500,
                "location": {"lat": MARKT[0], "lon": MARKT[1]},
                "channels": ["voice", "sms"],
            },
        ).get_json()
        response = client.post(
            f"/api/v1/actions/{action_id}/start", headers=headers, json={"expected_total": preview["total"]}
        )
        assert response.status_code in (403, 422), response.get_json()
        return response.get_json()["error"]

    def command(*flags: str) -> str:
        result = runner.invoke(
            cli,
            args=[
                "action",
                "start",
                "--lat",
                str(MARKT[0]),
                "--lon",
                str(MARKT[1]),
                "--radius",
                "1500",
                "--type",
                "vehicle",
                "--channels",
                "voice,sms",
                "--operator",
                "centralist",
                "--description",
                '{"vehicle_kind": "car", "colour": "red", "make": "Volkswagen"}',
                *flags,
            ],
        )
        assert result.exit_code == 1
        return result.output

    return console, api, command


def draft(db, staff, settings, norms) -> int:
    """A draft as the console and the API save it, with the norms given."""
    request = ActionRequest(
        incident_type="vehicle",
        description=VEHICLE,
        free_text="",
        lat=MARKT[0],
        lon=MARKT[1],
        location_label="Markt, Delft",
        radius_m=1500,
        channels=["voice", "sms"],
        norms=norms,
    )
    with db.transaction() as s:
        operator = s.get(Operator, staff.centralist_id)
        return save_draft(s, request, operator, staff.control_room_id, settings).id


def test_one_start_function_behind_every_door():
    assert (
        web.console.confirm.start_action
        is web.api.start_action
        is actions.cli.start_action
        is actions.start.start_action
    )


def test_the_supervisor_rule_refuses_alike_at_every_door(doors, db, staff, settings):
    console, api, command = doors
    settings.max_recipients_without_supervisor = 5
    confirmed = {"urgent_recent": True, "clear_description": True}
    assert SUPERVISOR_NEEDED in console(draft(db, staff, settings, confirmed))
    assert SUPERVISOR_NEEDED in api(draft(db, staff, settings, confirmed))
    assert SUPERVISOR_NEEDED in command("--urgent-recent", "--clear-description")
    with db.session() as s:
        assert set(s.scalars(select(Action.status))) == {ActionStatus.DRAFT}


def test_the_norms_refuse_alike_at_every_door(doors, db, staff, settings):
    """A draft whose norms were never confirmed does not start, whichever door it goes through."""
    console, api, command = doors
    assert NORMS_MISSING in console(draft(db, staff, settings, {}))
    assert NORMS_MISSING in api(draft(db, staff, settings, {}))
    assert NORMS_MISSING in command()
    with db.session() as s:
        assert set(s.scalars(select(Action.status))) == {ActionStatus.DRAFT}
