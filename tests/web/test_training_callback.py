"""The trainer's "Simuleer een terugbelactie" (web/console/training.py): in training mode a
simulated participant calls back about a running training action and the inbox shows it,
simulated and playable; login, CSRF and the audit trail hold; outside training mode the control
does not exist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryState,
    IncidentType,
    Participant,
    PhoneKind,
    PhoneNumber,
    Sighting,
)

BUTTON = "Simuleer een terugbelactie"


@pytest.fixture
def training_action(db, staff, clock) -> int:
    with db.transaction() as s:
        action = Action(
            control_room_id=staff.control_room_id,
            incident_type=IncidentType.SUSPECT,
            description={"gender": "male", "clothing": "een blauwe jas"},
            voice_text="x",
            location_label="Markt 1, Delft",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=["voice"],
            status=ActionStatus.RUNNING,
            training=True,
            started_at=clock.now(),
            started_by_id=staff.centralist_id,
        )
        s.add(action)
        participant = Participant(name="Anna Jansen", birth_year=1980, channels=["voice"])
        participant.phones.append(PhoneNumber(e164="+31612345678", kind=PhoneKind.MOBILE, verified=True))
        s.add(participant)
        s.flush()
        s.add(
            Delivery(
                action_id=action.id,
                participant_id=participant.id,
                channel=Channel.VOICE,
                target="+31612345678",
                phone_kind=PhoneKind.MOBILE,
                state=DeliveryState.COMPLETED,
                answered_at=clock.now(),
                finished_at=clock.now(),
            )
        )
        return action.id


def sightings(db) -> list[Sighting]:
    with db.session() as s:
        return list(s.scalars(select(Sighting)))


def test_the_trainer_makes_a_participant_call_back_and_the_inbox_plays_it(logged_in, training_action, db):
    client, token = logged_in
    page = client.get(f"/actions/{training_action}").get_data(as_text=True)
    assert BUTTON in page
    response = client.post(
        f"/actions/{training_action}/training/callback",
        data={
            "csrf_token": token,
            "choice": "record",
            "text": "Ik zie een man met een blauwe jas bij het station.",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#meldingen")
    assert "melding ingesproken" in client.get(f"/actions/{training_action}").get_data(as_text=True)

    snapshot = client.get(f"/actions/{training_action}/progress.json").get_json()
    [sighting] = snapshot["sightings"]
    assert sighting["simulated"] is True and sighting["participant_name"] == "Anna Jansen"
    audio = client.get(sighting["audio_url"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.get_data()[:4] == b"RIFF"
    with db.session() as s:
        [entry] = s.scalars(select(AuditEvent).where(AuditEvent.event == "training.callback_simulated")).all()
    assert entry.actor == "centralist" and entry.target_id == training_action


def test_without_csrf_or_with_markup_nothing_is_simulated_and_the_words_come_back(
    logged_in, training_action, db
):
    client, token = logged_in
    url = f"/actions/{training_action}/training/callback"
    assert client.post(url, data={"choice": "record"}).status_code == 400
    response = client.post(url, data={"csrf_token": token, "choice": "record", "text": "ik zie <script>"})
    assert response.status_code == 302 and "beller_tekst=" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "niet-toegestane tekens" in page and "ik zie &lt;script&gt;" in page
    assert sightings(db) == []


def test_outside_training_mode_the_control_does_not_exist(logged_in, training_action, settings, db):
    client, token = logged_in
    settings.phone_backend = "asterisk"  # the app's settings: production from here on
    assert BUTTON not in client.get(f"/actions/{training_action}").get_data(as_text=True)
    response = client.post(
        f"/actions/{training_action}/training/callback", data={"csrf_token": token, "choice": "record"}
    )
    assert response.status_code == 404
    assert sightings(db) == []
