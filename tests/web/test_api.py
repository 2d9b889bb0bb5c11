"""The JSON API: token auth, the form's validation, create -> start -> read -> end."""

from __future__ import annotations

import pytest
from console_population import MARKT, add_participants
from sqlalchemy import select

from db.models import Action, ActionStatus, AuditEvent, Operator
from web.auth import issue_api_token

BODY = {
    "incident_type": "vehicle",
    "description": {"vehicle_kind": "car", "colour": "red", "make": "Volkswagen", "plate": "12-ABC-3"},
    "location": {"lat": MARKT[0], "lon": MARKT[1], "label": "Markt, Delft"},
    "radius_m": 1500,
    "channels": ["voice", "sms"],
    "norms": {"urgent_recent": True, "clear_description": True},
}


@pytest.fixture
def api(client, staff, db):
    add_participants(db, 12)
    with db.transaction() as s:
        token = issue_api_token(s, s.get(Operator, staff.centralist_id))
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, url, json=None, auth=True):
        return client.open(url, method=method, json=json, headers=headers if auth else {})

    return call


def test_missing_or_wrong_token_refused(api, client, db):
    response = api("GET", "/api/v1/actions", auth=False)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    response = client.get("/api/v1/actions", headers={"Authorization": "Bearer bn_wrong"})
    assert response.status_code == 401 and response.get_json()["error"] == "Ongeldig API-token."
    with db.session() as s:
        assert "api.auth_failed" in set(s.scalars(select(AuditEvent.event)))


def test_session_cookie_does_not_open_the_api(client, staff):
    from console_testing import login

    login(client, "centralist")
    assert client.get("/api/v1/actions").status_code == 401


def test_create_start_read_end(api, db):
    created = api("POST", "/api/v1/actions", BODY)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    action_id, total = body["action"]["id"], body["preview"]["total"]
    assert body["action"]["status"] == "draft"
    assert body["preview"]["counts"] == {"voice": 12, "sms": 4} and total == 16
    assert "12-ABC-3" in body["preview"]["display_text"]
    assert api("POST", f"/api/v1/actions/{action_id}/start", {}).status_code == 422
    assert api("POST", f"/api/v1/actions/{action_id}/start", {"expected_total": total + 1}).status_code == 409
    started = api("POST", f"/api/v1/actions/{action_id}/start", {"expected_total": total})
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["action"]["progress"]["by_state"] == {"queued": 16}
    read = api("GET", f"/api/v1/actions/{action_id}").get_json()["action"]
    assert read["status"] == "running" and read["figures"]["recipients"] == 16
    running = api("GET", "/api/v1/actions?status=running").get_json()["actions"]
    assert [a["id"] for a in running] == [action_id]
    assert api("POST", f"/api/v1/actions/{action_id}/end", {"outcome": "maybe"}).status_code == 422
    ended = api(
        "POST", f"/api/v1/actions/{action_id}/end", {"outcome": "vehicle_found", "note": "bij het station"}
    )
    assert ended.status_code == 200
    assert ended.get_json()["action"]["outcome"] == "vehicle_found"
    assert api("POST", f"/api/v1/actions/{action_id}/end", {"outcome": "found"}).status_code == 409
    with db.session() as s:
        assert s.get(Action, action_id).status == ActionStatus.ENDED


def test_same_validation_as_the_form(api, db):
    bad = {
        **BODY,
        "description": {"make": "<script>alert(1)</script>"},
        "radius_m": 10,
        "norms": {"urgent_recent": True},
    }
    response = api("POST", "/api/v1/actions", bad)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "niet-toegestane tekens" in errors["d_make"]
    assert "straal" in errors["radius_m"].lower()
    assert "signalement" in errors["norms"]
    assert api("POST", "/api/v1/actions", {**BODY, "location": {"lat": 40.0, "lon": 4.0}}).status_code == 422
    assert db.count(Action) == 0
    assert api("POST", "/api/v1/actions", ["not", "an", "object"]).status_code == 400


def test_oversized_action_via_api_needs_a_supervisor(api, settings):
    settings.max_radius_without_supervisor_m = 1000
    body = api("POST", "/api/v1/actions", BODY).get_json()
    assert body["preview"]["needs_supervisor"] is True
    response = api(
        "POST", f"/api/v1/actions/{body['action']['id']}/start", {"expected_total": body["preview"]["total"]}
    )
    assert response.status_code == 403 and "supervisor" in response.get_json()["error"]


def test_post_without_csrf_is_fine_for_the_api_but_not_for_the_console(api, client):
    assert api("POST", "/api/v1/preview", BODY).status_code == 200
    assert client.post("/actions/preview", data={}).status_code in (400, 401)


def _running(api, radius_m: int) -> tuple[int, int]:
    body = api("POST", "/api/v1/actions", {**BODY, "radius_m": radius_m}).get_json()
    action_id, total = body["action"]["id"], body["preview"]["total"]
    started = api("POST", f"/api/v1/actions/{action_id}/start", {"expected_total": total})
    assert started.status_code == 200, started.get_json()
    return action_id, total


def test_a_running_action_is_updated_and_widened_through_the_api(api, db):
    action_id, total = _running(api, 500)
    update = {"description": {**BODY["description"], "features": "deuk in de achterklep"}}
    updated = api("POST", f"/api/v1/actions/{action_id}/update", update)
    assert updated.status_code == 200, updated.get_json()
    revision = updated.get_json()["revision"]
    # Nobody was reached yet: no short updates, every pending delivery carries the new text.
    assert (revision["number"], revision["kind"]) == (1, "update")
    assert (revision["updates_queued"], revision["pending_with_new_text"]) == (0, total)
    assert "deuk in de achterklep" in updated.get_json()["action"]["voice_text"]
    refused = api("POST", f"/api/v1/actions/{action_id}/update", {"description": {"make": "<b>"}})
    assert refused.status_code == 422 and "d_make" in refused.get_json()["errors"]
    assert api("POST", f"/api/v1/actions/{action_id}/update", {"description": "rood"}).status_code == 422

    wider = {"radius_m": 1500}
    preview = api("POST", f"/api/v1/actions/{action_id}/area/preview", wider).get_json()
    assert preview["added"] > 0 and preview["total"] == total + preview["added"]
    assert api("POST", f"/api/v1/actions/{action_id}/area", wider).status_code == 422  # not confirmed
    stale = api(
        "POST", f"/api/v1/actions/{action_id}/area", {**wider, "expected_added": preview["added"] + 1}
    )
    assert stale.status_code == 409
    assert (
        api("POST", f"/api/v1/actions/{action_id}/area", {"radius_m": 10, "expected_added": 1}).status_code
        == 422
    )
    changed = api("POST", f"/api/v1/actions/{action_id}/area", {**wider, "expected_added": preview["added"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["revision"]["recipients_added"] == preview["added"]
    # The same circle again adds nobody: refused, nothing planned twice.
    again = api("POST", f"/api/v1/actions/{action_id}/area", {**wider, "expected_added": 0})
    assert again.status_code == 409

    read = api("GET", f"/api/v1/actions/{action_id}").get_json()["action"]
    assert [(r["number"], r["kind"]) for r in read["revisions"]] == [(1, "update"), (2, "area")]
    assert read["radius_m"] == 1500 and read["figures"]["recipients"] == total + preview["added"]
    with db.session() as s:
        events = list(s.scalars(select(AuditEvent.event)))
    assert events.count("action.updated") == 1 and events.count("action.area_changed") == 1

    api("POST", f"/api/v1/actions/{action_id}/end", {"outcome": "vehicle_found"})
    assert api("POST", f"/api/v1/actions/{action_id}/update", update).status_code == 409


def test_widening_beyond_the_limits_through_the_api_needs_a_supervisor(api, settings):
    action_id, _total = _running(api, 500)
    settings.max_radius_without_supervisor_m = 1000
    preview = api("POST", f"/api/v1/actions/{action_id}/area/preview", {"radius_m": 1500}).get_json()
    assert preview["needs_supervisor"] is True
    response = api(
        "POST", f"/api/v1/actions/{action_id}/area", {"radius_m": 1500, "expected_added": preview["added"]}
    )
    assert response.status_code == 403 and "supervisor" in response.get_json()["error"]
