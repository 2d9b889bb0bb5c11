"""The console end to end through the Flask test client: preview, draft, start, live, end."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

import pytest
from console_population import MARKT, add_participants
from console_testing import csrf_from, login
from sqlalchemy import func, select

from db.models import Action, ActionStatus, AuditEvent, Delivery, DeliveryState, Sighting

SUSPECT = {
    "incident_type": "suspect",
    "d__suspect__gender": "male",
    "d__suspect__age": "25",
    "d__suspect__clothing": "een blauwe jas",
    "lat": str(MARKT[0]),
    "lon": str(MARKT[1]),
    "radius_m": "1000",
    "channels": ["voice", "sms", "email"],
    "norm_urgent_recent": "on",
    "norm_clear_description": "on",
}


@pytest.fixture
def console(client, staff, db):
    add_participants(db, 12)
    login(client, "centralist")
    token = csrf_from(client.get("/actions/new").get_data(as_text=True))
    return client, token


def post(client, url, token, data):
    return client.post(url, data={**data, "csrf_token": token})


def start_action(client, token, form=SUSPECT) -> int:
    response = post(client, "/actions/new", token, form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    action_id = int(response.headers["Location"].split("/")[2])
    html = client.get(f"/actions/{action_id}/confirm").get_data(as_text=True)
    total = re.search(r'name="expected_total" value="(\d+)"', html).group(1)
    response = post(client, f"/actions/{action_id}/start", token, {"expected_total": total})
    assert response.headers["Location"] == f"/actions/{action_id}"
    return action_id


def test_new_action_form_has_every_incident_type_and_the_norms(console):
    client, _ = console
    html = client.get("/actions/new").get_data(as_text=True)
    for label in ("Verdachte gevlucht", "Vermiste persoon", "Vermist kind", "Voertuig", "Overig"):
        assert label in html
    assert 'name="d__vehicle__plate"' in html and 'name="d__suspect__clothing"' in html
    assert "Burgernet-normen" in html and "zojuist" in html
    assert "vendor/leaflet/leaflet.js" in html and "<script>" not in html


def test_preview_counts_match_the_planned_wave(console, db):
    client, token = console
    preview = post(client, "/actions/preview", token, SUSPECT).get_json()
    assert preview["ok"], preview
    assert preview["counts"] == {"voice": 9, "sms": 3, "email": 3}
    assert preview["total"] == 15 and preview["participants"] == 9
    assert "blauwe jas" in preview["display_text"]
    assert preview["sms"]["segments"] == 1 and preview["sms"]["chars"] == len(preview["sms"]["text"])
    assert preview["eta_s"] > 0 and preview["needs_supervisor"] is False
    action_id = start_action(client, token)
    with db.session() as s:
        planned = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.action_id == action_id))
        action = s.get(Action, action_id)
        assert action.status == ActionStatus.RUNNING and action.voice_text
    assert planned == preview["total"]


def test_preview_reports_field_errors_in_dutch(console):
    client, token = console
    bad = {**SUSPECT, "d__suspect__age": "oud", "radius_m": "50"}
    result = post(client, "/actions/preview", token, bad).get_json()
    assert result["ok"] is False
    assert "20-25" in result["errors"]["d_age"]
    assert "tussen 100 en 25000" in result["errors"]["radius_m"]


def test_norms_are_enforced(console, db):
    client, token = console
    form = {k: v for k, v in SUSPECT.items() if k != "norm_urgent_recent"}
    response = post(client, "/actions/new", token, form)
    assert response.status_code == 422
    assert "Burgernet-normen" in response.get_data(as_text=True)
    missing = {
        **SUSPECT,
        "incident_type": "missing_person",
        "d__missing_person__age": "80",
        "d__missing_person__clothing": "een grijze jas",
    }
    response = post(client, "/actions/new", token, missing)
    assert response.status_code == 422
    assert "familie heeft toestemming" in response.get_data(as_text=True).lower()
    assert db.count(Action) == 0


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "x" * 5000,
    ],
)
def test_malicious_or_huge_description_refused_and_inert(console, db, text):
    client, token = console
    response = post(
        client, "/actions/new", token, {**SUSPECT, "d__suspect__clothing": text, "free_text": text}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "niet-toegestane tekens" in html or "te lang" in html
    assert db.count(Action) == 0


def test_start_requires_csrf_and_the_confirmed_count(console, db):
    client, token = console
    response = post(client, "/actions/new", token, SUSPECT)
    action_id = int(response.headers["Location"].split("/")[2])
    assert client.post(f"/actions/{action_id}/start", data={"expected_total": "15"}).status_code == 400
    response = post(client, f"/actions/{action_id}/start", token, {"expected_total": "14"})
    assert response.headers["Location"].endswith("/confirm")
    with db.session() as s:
        assert s.get(Action, action_id).status == ActionStatus.DRAFT


def test_oversized_action_needs_a_supervisor(console, db, settings, staff):
    client, token = console
    settings.max_recipients_without_supervisor = 10
    response = post(client, "/actions/new", token, SUSPECT)
    action_id = int(response.headers["Location"].split("/")[2])
    html = client.get(f"/actions/{action_id}/confirm").get_data(as_text=True)
    assert "Supervisor vereist" in html and 'name="supervisor_password"' in html
    response = post(client, f"/actions/{action_id}/start", token, {"expected_total": "15"})
    assert response.headers["Location"].endswith("/confirm")
    response = post(
        client,
        f"/actions/{action_id}/start",
        token,
        {
            "expected_total": "15",
            "supervisor_username": "centralist",
            "supervisor_password": "burgernet-demo",
        },
    )
    assert response.headers["Location"].endswith("/confirm")  # a centralist cannot confirm
    response = post(
        client,
        f"/actions/{action_id}/start",
        token,
        {
            "expected_total": "15",
            "supervisor_username": "supervisor",
            "supervisor_password": "burgernet-demo",
        },
    )
    assert response.headers["Location"] == f"/actions/{action_id}"
    with db.session() as s:
        assert s.get(Action, action_id).supervisor_confirmed_by_id == staff.supervisor_id
        events = set(s.scalars(select(AuditEvent.event)))
    assert {"action.created", "action.supervisor_confirmed", "action.started"} <= events


def test_live_progress_sightings_and_end(console, db, staff, settings, clock):
    client, token = console
    action_id = start_action(client, token)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    (settings.recordings_dir / "s1.wav").write_bytes(b"RIFF....WAVEfmt ")
    with db.transaction() as s:
        s.add(
            Sighting(
                action_id=action_id,
                control_room_id=staff.control_room_id,
                caller_number="+31612345678",
                distance_m=420.0,
                recording_path="s1.wav",
                duration_s=12.0,
                received_at=clock.now(),
            )
        )
    snapshot = client.get(f"/actions/{action_id}/progress.json").get_json()
    assert snapshot["progress"]["by_state"] == {"queued": 15}
    [sighting] = snapshot["sightings"]
    assert sighting["caller"] == "+316****5678" and "+31612345678" not in str(snapshot)
    assert client.get(sighting["audio_url"]).status_code == 200
    response = post(client, sighting["handle_url"], token, {"note": "eenheid ter plaatse"})
    assert response.status_code == 302
    with db.session() as s:
        handled = s.scalars(select(Sighting)).one()
        assert handled.handled and handled.note == "eenheid ter plaatse"
    preview = post(client, f"/actions/{action_id}/outcome-preview", token, {"outcome": "arrested"}).get_json()
    assert preview["ok"] and "aangehouden" in preview["display_text"]
    assert post(client, f"/actions/{action_id}/end", token, {"outcome": "bogus"}).status_code == 302
    with db.session() as s:
        assert s.get(Action, action_id).status == ActionStatus.RUNNING
    post(client, f"/actions/{action_id}/end", token, {"outcome": "arrested"})
    with db.session() as s:
        action = s.get(Action, action_id)
        assert action.status == ActionStatus.ENDED and action.outcome.value == "arrested"
        states = set(s.scalars(select(Delivery.state).where(Delivery.action_id == action_id)))
    assert states == {DeliveryState.CANCELLED}
    html = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "Verdachte aangehouden" in html
    overview = client.get("/").get_data(as_text=True)
    assert f'data-action-id="{action_id}"' in overview


def test_event_stream_sends_progress(console):
    client, token = console
    action_id = start_action(client, token)
    post(client, f"/actions/{action_id}/end", token, {"outcome": "no_result"})
    response = client.get(f"/actions/{action_id}/events")
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks) in (b"retry: 1000\n\n", "retry: 1000\n\n")
    first = next(chunks)
    text = first.decode() if isinstance(first, bytes) else first
    assert text.startswith("id: ") and "\nevent: progress\ndata: " in text and '"status":"ended"' in text
    response.close()


def test_other_control_room_cannot_see_the_action(console, db, staff):
    from werkzeug.security import generate_password_hash

    from db.models import ControlRoom, Operator, Role

    client, token = console
    action_id = start_action(client, token)
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Rotterdam", region="R", transfer_target="+31101234567")
        s.add(room)
        s.flush()
        s.add(
            Operator(
                username="rotterdam",
                display_name="R",
                role=Role.CENTRALIST,
                password_hash=generate_password_hash("burgernet-demo", method="pbkdf2:sha256:1000"),
                control_room_id=room.id,
            )
        )
    other = client.application.test_client()
    login(other, "rotterdam")
    assert other.get(f"/actions/{action_id}").status_code == 404
    assert other.get(f"/actions/{action_id}/progress.json").status_code == 404


def test_address_search_uses_the_gazetteer(console, db, settings):
    from db.models import GazetteerAddress

    settings.pdok_base_url = ""
    client, token = console
    with db.transaction() as s:
        s.add(
            GazetteerAddress(
                postcode="2611GN",
                house_number=1,
                street="Markt",
                city="Delft",
                municipality="Delft",
                lat=52.0116,
                lon=4.3586,
            )
        )
    found = post(client, "/geocode", token, {"postcode": "2611 gn", "house_number": "1"}).get_json()
    assert found == {"ok": True, "lat": 52.0116, "lon": 4.3586, "label": "Markt 1, Delft"}
    missing = post(client, "/geocode", token, {"postcode": "2611GN", "house_number": "99"}).get_json()
    assert missing["ok"] is False and "niet gevonden" in missing["error"]
    invalid = post(client, "/geocode", token, {"postcode": "ABCD", "house_number": "1"}).get_json()
    assert invalid["ok"] is False
    # the form geocodes on submit when no point was clicked
    form = {**SUSPECT, "lat": "", "lon": "", "postcode": "2611GN", "house_number": "1"}
    response = post(client, "/actions/new", token, form)
    assert response.status_code == 302
    with db.session() as s:
        action = s.scalars(select(Action)).one()
        assert (action.lat, action.lon, action.location_label) == (52.0116, 4.3586, "Markt 1, Delft")


def test_preview_and_confirmation_announce_quiet_hours(console, clock, settings):
    client, token = console
    settings.quiet_hours_start, settings.quiet_hours_end = time(23, 0), time(7, 0)
    clock._now = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # 02:30 in Amsterdam
    preview = post(client, "/actions/preview", token, SUSPECT).get_json()
    assert preview["voice_held_until"] == "2026-11-28T06:00:00+00:00"
    assert preview["voice_held_until_text"] == "07:00"  # as the confirmation writes it
    urgent = {
        **SUSPECT,
        "incident_type": "missing_child",
        "d__missing_child__age": "6",
        "d__missing_child__clothing": "een gele regenjas",
        "norm_family_consent": "on",
    }
    assert post(client, "/actions/preview", token, urgent).get_json()["voice_held_until"] is None
    response = post(client, "/actions/new", token, SUSPECT)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nachtrust" in html and "07:00" in html


def test_audio_preview_renders_and_is_served_to_operators_only(console, app):
    client, token = console
    result = post(client, "/actions/preview/audio", token, SUSPECT).get_json()
    assert result["ok"], result
    assert result["duration_s"] > 3
    audio = client.get(result["url"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF"
    refused = post(
        client, "/actions/preview/audio", token, {**SUSPECT, "d__suspect__clothing": "<b>jas</b>"}
    ).get_json()
    assert refused["ok"] is False and "d_clothing" in refused["errors"]
    anonymous = app.test_client()
    assert anonymous.get(result["url"]).status_code == 302
    assert client.get("/audio/prompt/..%2Fsecret").status_code == 404


def test_mark_handled_from_the_live_page_answers_json(console, db, staff, clock):
    client, token = console
    action_id = start_action(client, token)
    with db.transaction() as s:
        s.add(
            Sighting(
                action_id=action_id,
                control_room_id=staff.control_room_id,
                caller_number=None,
                received_at=clock.now(),
            )
        )
    [sighting] = client.get(f"/actions/{action_id}/progress.json").get_json()["sightings"]
    assert sighting["caller"] == "anoniem" and sighting["audio_url"] is None
    headers = {"Accept": "application/json"}
    bad = client.post(
        sighting["handle_url"], headers=headers, data={"note": "<script>", "csrf_token": token}
    ).get_json()
    assert bad["ok"] is False and "niet-toegestane" in bad["errors"]["note"]
    good = client.post(
        sighting["handle_url"], headers=headers, data={"note": "loos alarm", "csrf_token": token}
    ).get_json()
    assert good == {"ok": True, "errors": {}}
    [after] = client.get(f"/actions/{action_id}/progress.json").get_json()["sightings"]
    assert after["handled"] and after["note"] == "loos alarm" and after["handled_by"] == "Centralist"


def test_sighting_audio_never_leaves_the_recordings_store(console, db, staff, clock, settings):
    client, token = console
    action_id = start_action(client, token)
    with db.transaction() as s:
        s.add(
            Sighting(
                action_id=action_id,
                control_room_id=staff.control_room_id,
                recording_path="../../etc/passwd",
                received_at=clock.now(),
            )
        )
    [sighting] = client.get(f"/actions/{action_id}/progress.json").get_json()["sightings"]
    assert client.get(sighting["audio_url"]).status_code == 404
