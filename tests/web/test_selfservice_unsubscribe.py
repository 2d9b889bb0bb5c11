"""Every e-mail's unsubscribe link (issue 16): it works without logging in, a GET only asks
for confirmation, the POST with the page's CSRF token opts the participant out and says so;
a tampered, foreign or expired link opts nobody out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    Participant,
    ParticipantStatus,
)
from deliveries.message_texts import UNSUBSCRIBE_DAYS, MessageComposer

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"Meld u af: (\S+)")


@pytest.fixture
def mailed(app, db, clock, settings):
    """A participant who received an alert by e-mail; returns (participant id, e-mail)."""
    app.extensions["burgernet.clock"] = clock
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567")
        person = Participant(name="Jan Jansen", birth_year=1975, email="jan@example.nl", channels=["email"])
        s.add_all([room, person])
        s.flush()
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.MISSING_CHILD,
            description={"gender": "female", "age": "7", "clothing": "roze jas"},
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=["email"],
            status=ActionStatus.RUNNING,
        )
        s.add(action)
        s.flush()
        delivery = Delivery(
            action_id=action.id,
            participant_id=person.id,
            kind=DeliveryKind.ALERT,
            channel=Channel.EMAIL,
            target="jan@example.nl",
            state=DeliveryState.QUEUED,
        )
        s.add(delivery)
        s.flush()
        email = MessageComposer(settings, clock, app.config["SECRET_KEY"]).message(delivery, action)
        return person.id, email


def _status(db, participant_id):
    with db.session() as s:
        return s.get(Participant, participant_id).status


def _path(email) -> str:
    url = LINK.search(email.text).group(1)
    assert url.startswith("http://127.0.0.1:5000/mijn/afmelden/")
    return url.removeprefix("http://127.0.0.1:5000")


def test_the_email_names_sender_and_a_personal_unsubscribe_link(mailed):
    _, email = mailed
    assert "Burgernet namens de politie, Meldkamer Haaglanden" in email.text
    path = _path(email)
    assert f'href="http://127.0.0.1:5000{path}"' in email.html
    assert "Meldkamer Haaglanden" in email.html


def test_get_asks_to_confirm_and_the_post_opts_out(client, db, mailed):
    participant_id, email = mailed
    page = client.get(_path(email))  # a fresh browser: not logged in
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ja, meld mij af" in html
    assert _status(db, participant_id) is ParticipantStatus.ACTIVE  # a GET (a mail scanner) changes nothing

    refused = client.post(_path(email))  # no CSRF token
    assert refused.status_code == 400
    assert _status(db, participant_id) is ParticipantStatus.ACTIVE

    done = client.post(_path(email), data={"csrf_token": TOKEN.search(html).group(1)})
    assert done.status_code == 200
    assert "U bent afgemeld bij Burgernet" in done.get_data(as_text=True)
    assert _status(db, participant_id) is ParticipantStatus.OPTED_OUT
    with db.session() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "participant.opted_out")).all()
    assert len(audit) == 1

    again = client.get(_path(email))
    assert "U bent al afgemeld" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
        lambda t: str(int(t.split(".")[0]) + 1) + t[t.index(".") :],  # another participant
        lambda t: t.split(".")[0] + "." + str(int(t.split(".")[1]) + 365) + "." + t.split(".")[2],  # later
        lambda t: t.split(".")[0],  # the bare participant id
        lambda t: "١." + t.split(".", 1)[1],  # an Arabic-Indic digit
    ],
)
def test_a_tampered_link_opts_nobody_out(client, db, mailed, tamper):
    participant_id, email = mailed
    token = _path(email).rsplit("/", 1)[1]
    page = client.get("/mijn/afmelden/" + tamper(token))
    assert page.status_code == 404
    assert "Deze afmeldlink werkt niet" in page.get_data(as_text=True)
    csrf = TOKEN.search(client.get("/mijn").get_data(as_text=True)).group(1)
    assert client.post("/mijn/afmelden/" + tamper(token), data={"csrf_token": csrf}).status_code == 404
    assert _status(db, participant_id) is ParticipantStatus.ACTIVE


def test_the_link_expires(client, db, clock, mailed):
    participant_id, email = mailed
    clock.advance(timedelta(days=UNSUBSCRIBE_DAYS - 1).total_seconds())
    assert client.get(_path(email)).status_code == 200
    clock.advance(timedelta(days=2).total_seconds())
    page = client.get(_path(email))
    assert page.status_code == 404
    assert "verlopen" in page.get_data(as_text=True)
    assert _status(db, participant_id) is ParticipantStatus.ACTIVE


def test_a_link_signed_with_another_secret_is_refused(client, db, clock, settings, mailed):
    participant_id, _ = mailed
    with db.session() as s:
        delivery = s.scalars(select(Delivery)).one()
        action = s.get(Action, delivery.action_id)
        email = MessageComposer(settings, clock, "another-secret").message(delivery, action)
    assert client.get(_path(email)).status_code == 404
