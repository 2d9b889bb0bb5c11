"""The live page's event stream is short-lived (issue 12): each stream ends by itself after
web.live_stream_s, tells the browser how soon to reconnect, and a reconnect that resumes from
Last-Event-ID gets only what changed; a viewer holds a server thread only briefly."""

from __future__ import annotations

import json
import re

import pytest
from console_population import add_participants
from console_testing import csrf_from, login
from test_console_flow import post, start_action

from db.heartbeats import Heartbeat
from db.models import Sighting


@pytest.fixture
def live(client, staff, db, settings):
    settings.web.live_interval_s = 0.2
    settings.web.live_stream_s = 1.0
    add_participants(db, 6)
    login(client, "centralist")
    token = csrf_from(client.get("/actions/new").get_data(as_text=True))
    return client, token


def read_stream(client, action_id: int, last_event_id: str = "") -> str:
    """The whole stream: iterating the body returns only because the server ends it."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = client.get(f"/actions/{action_id}/events", headers=headers)
    assert response.mimetype == "text/event-stream"
    chunks = [c.decode() if isinstance(c, bytes) else c for c in response.response]
    response.close()
    return "".join(chunks)


def progress_events(text: str) -> list[tuple[str, str]]:
    """(id, data) of every progress event."""
    return re.findall(r"id: (\w+)\nevent: progress\ndata: (.*)\n\n", text)


def test_a_stream_of_a_running_action_ends_by_itself_and_says_when_to_reconnect(live):
    client, token = live
    action_id = start_action(client, token)
    text = read_stream(client, action_id)
    assert text.startswith("retry: 1000\n\n")
    events = progress_events(text)
    assert len(events) == 1 and '"status":"running"' in events[0][1]  # unchanged: sent once
    assert ": keep-alive" in text
    assert text.endswith("event: reconnect\ndata: {}\n\n")


def test_a_reconnect_resumes_from_the_last_event_and_still_sees_changes(live, db, staff):
    client, token = live
    action_id = start_action(client, token)
    (first_id, _), *_ = progress_events(read_stream(client, action_id))

    # nothing changed: the reconnect sends no second copy of what the page shows
    again = read_stream(client, action_id, last_event_id=first_id)
    assert progress_events(again) == [] and again.endswith("event: reconnect\ndata: {}\n\n")

    # a sighting comes in: the next stream carries it
    with db.transaction() as s:
        s.add(
            Sighting(action_id=action_id, control_room_id=staff.control_room_id, caller_number="+31612345678")
        )
    changed = progress_events(read_stream(client, action_id, last_event_id=first_id))
    assert len(changed) == 1 and changed[0][0] != first_id
    assert '"caller":"+316****5678"' in changed[0][1]


def test_the_stream_of_an_ended_action_ends_soon(live):
    client, token = live
    action_id = start_action(client, token)
    post(client, f"/actions/{action_id}/end", token, {"outcome": "no_result"})
    text = read_stream(client, action_id)
    assert '"status":"ended"' in progress_events(text)[0][1]
    assert "event: reconnect" not in text  # nothing to come back for


def test_the_live_page_says_when_the_phone_network_is_unreachable(live, db):
    client, token = live
    action_id = start_action(client, token)
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert re.search(r'id="backend-banner" hidden', page)

    dialer = Heartbeat(db, "dialer", suffix="trunk-a")
    dialer.beat(
        "degraded", backend="simulator", reason="backend unavailable", backend_reason="AMI-verbinding weg"
    )
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert 'id="backend-banner">' in page and "Centrale niet bereikbaar" in page
    assert '"backend_unreachable":true' in progress_events(read_stream(client, action_id))[0][1]

    # a dialer that lost its database says nothing about the phone network
    dialer.beat("degraded", backend="simulator", reason="database unreachable")
    assert client.get(f"/actions/{action_id}/progress.json").get_json()["backend_unreachable"] is False
    dialer.beat("degraded", backend="simulator", reason="backend unavailable", backend_reason="weg")

    # one healthy dialer on the backend is enough to call
    Heartbeat(db, "dialer", suffix="trunk-b").beat(backend="simulator")
    assert client.get(f"/actions/{action_id}/progress.json").get_json()["backend_unreachable"] is False


def test_the_inbox_says_when_a_recording_was_cut_or_lost(live, db, staff):
    client, token = live
    action_id = start_action(client, token)
    room = staff.control_room_id
    with db.transaction() as s:
        s.add_all(
            [
                Sighting(
                    action_id=action_id,
                    control_room_id=room,
                    caller_number="+31611111111",
                    recording_status="truncated",
                    duration_s=4.2,
                    recording_error="cut short: 4.2 of 8 s",
                ),
                Sighting(
                    action_id=action_id,
                    control_room_id=room,
                    caller_number="+31622222222",
                    recording_status="failed",
                    recording_error="No space left",
                    transferred=True,
                ),
                Sighting(
                    action_id=action_id,
                    control_room_id=room,
                    caller_number="+31633333333",
                    recording_status="none",
                ),
                Sighting(
                    action_id=action_id,
                    control_room_id=room,
                    caller_number="+31644444444",
                    recording_status="complete",
                    duration_s=6.0,
                ),
            ]
        )
    (_, data), *_ = progress_events(read_stream(client, action_id))
    snapshot = json.loads(data)
    notes = sorted(str(item["recording_note"]) for item in snapshot["sightings"])
    assert notes == [
        "None",  # the complete recording needs no word
        "Opgehangen vóór een melding: niets ingesproken.",
        "Opname mislukt: er kon niets worden opgeslagen. De melder is doorverbonden.",
        "Opname onvolledig (opslag vol): alleen 4 s bewaard. Bel de melder terug.",
    ]
    assert "No space left" not in data and "cut short" not in data  # internal detail stays out
    assert snapshot["figures"]["sightings"] == 3  # the caller who said nothing is no sighting
