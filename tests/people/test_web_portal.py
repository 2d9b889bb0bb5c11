"""The portal's pages through Flask's test client: sign-up with verification (the training
courier's outbox gives the codes), self-service, admin and evaluation guarded by role."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from db.models import (
    AuditEvent,
    ControlRoom,
    GazetteerAddress,
    Municipality,
    Operator,
    Participant,
    ParticipantStatus,
    PhoneNumber,
    Role,
    Trunk,
)
from web.signup import TrainingCourier

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def portal(app, db, clock):
    app.extensions["burgernet.clock"] = clock
    with db.transaction() as s:
        s.add(
            GazetteerAddress(
                postcode="2611AB",
                house_number=12,
                street="Oude Delft",
                city="Delft",
                municipality="Delft",
                lat=52.0116,
                lon=4.3571,
            )
        )
        s.add(ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567"))
    return app


def token(client, url="/aanmelden") -> str:
    return TOKEN.search(client.get(url).get_data(as_text=True)).group(1)


def outbox(app) -> list:
    courier = app.extensions["burgernet.portal_courier"]
    assert isinstance(courier, TrainingCourier)
    return courier.outbox.items


def code_for(app, target: str) -> str:
    message = [m for m in outbox(app) if m.target == target][-1]
    digits = re.search(r"(\d(?: ?\d){5})", message.text).group(1)
    return digits.replace(" ", "")


SIGNUP = {
    "name": "Jan Jansen",
    "birth_year": "1975",
    "home_postcode": "2611 AB",
    "home_number": "12",
    "mobile": "06 1234 5678",
    "landline": "015 234 5678",
    "email": "jan@example.nl",
    "channels": ["voice", "sms", "email"],
    "consent": "ja",
}


def sign_up(client, **over):
    data = {**SIGNUP, **over, "csrf_token": token(client)}
    return client.post("/aanmelden", data=data)


def test_sign_up_and_verify_by_sms_call_and_email_link(portal, client, db):
    response = sign_up(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/aanmelden/bevestigen")
    page = client.get("/aanmelden/bevestigen").get_data(as_text=True)
    assert "Trainingsmodus" in page and "+31612345678" in page
    methods = {m.target: m.method for m in outbox(portal)}
    assert methods == {"+31612345678": "sms", "+31152345678": "voice", "jan@example.nl": "email"}
    # the sms and the spoken code
    for number in ("+31612345678", "+31152345678"):
        phone_id = _phone_id(db, number)
        r = client.post(
            "/aanmelden/bevestigen",
            data={"csrf_token": token(client), "phone_id": phone_id, "code": code_for(portal, number)},
        )
        assert r.status_code == 200
    link = [m for m in outbox(portal) if m.method == "email"][-1].text.split("Link: ")[1]
    assert client.get(link.split("127.0.0.1:5000")[1]).status_code == 200
    assert "Klaar!" in client.get("/aanmelden/bevestigen").get_data(as_text=True)
    with db.session() as s:
        p = s.scalar(select(Participant))
        assert p.email_verified and all(x.verified for x in p.phones)
        assert p.addresses[0].municipality == "Delft"


def _phone_id(db, number):
    with db.session() as s:
        return s.scalar(select(PhoneNumber.id).where(PhoneNumber.e164 == number))


def test_wrong_code_is_refused_in_dutch(portal, client, db):
    sign_up(client, landline="", channels=["sms"])
    right = code_for(portal, "+31612345678")
    wrong = "000000" if right != "000000" else "111111"
    r = client.post(
        "/aanmelden/bevestigen",
        data={"csrf_token": token(client), "phone_id": _phone_id(db, "+31612345678"), "code": wrong},
    )
    assert r.status_code == 400 and "klopt niet" in r.get_data(as_text=True)


def test_sign_up_errors_are_shown_and_under_16_refused(portal, client):
    r = sign_up(client, birth_year="2015")
    assert r.status_code == 400 and "16 jaar" in r.get_data(as_text=True)
    # The message takes the focus and the field it is about points to it (WCAG 3.3.1).
    html = r.get_data(as_text=True)
    assert 'id="form-error" tabindex="-1" autofocus' in html
    assert 'name="birth_year" aria-invalid="true" aria-describedby="form-error"' in html
    assert html.count('aria-invalid="true"') == 1
    r = sign_up(client, consent="")
    assert r.status_code == 400 and "akkoord" in r.get_data(as_text=True)


def test_sign_up_without_csrf_is_refused(portal, client):
    client.get("/aanmelden")
    assert client.post("/aanmelden", data=SIGNUP).status_code == 400


def test_too_many_sign_ups_from_one_address_are_refused(portal, client, settings):
    settings.portal.requests_per_ip_per_hour = 2
    assert sign_up(client).status_code == 302
    assert sign_up(client, email="b@example.nl").status_code == 302
    r = sign_up(client, email="c@example.nl")
    assert r.status_code == 400 and "te veel codes" in r.get_data(as_text=True)


def verified_participant(portal, client, db):
    sign_up(client, landline="", channels=["sms", "email"])
    client.post(
        "/aanmelden/bevestigen",
        data={
            "csrf_token": token(client),
            "phone_id": _phone_id(db, "+31612345678"),
            "code": code_for(portal, "+31612345678"),
        },
    )
    with db.transaction() as s:
        s.scalar(select(Participant)).email_verified = True


def log_in(portal, client, identifier="06 12345678"):
    r = client.post("/mijn", data={"csrf_token": token(client, "/mijn"), "identifier": identifier})
    assert r.status_code == 302
    r = client.post(
        "/mijn/code", data={"csrf_token": token(client, "/mijn"), "code": code_for(portal, "+31612345678")}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/mijn/overzicht")


def test_login_answer_is_the_same_for_strangers(portal, client, db):
    verified_participant(portal, client, db)
    before = len(outbox(portal))
    r = client.post("/mijn", data={"csrf_token": token(client, "/mijn"), "identifier": "06 2345 6789"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/mijn/code")
    assert len(outbox(portal)) == before  # nothing sent to an unknown number
    r = client.post("/mijn/code", data={"csrf_token": token(client, "/mijn"), "code": "123456"})
    assert r.status_code == 400


def test_self_service_change_pause_opt_out_export_delete(portal, client, db):
    verified_participant(portal, client, db)
    assert client.get("/mijn/overzicht").status_code == 302  # not logged in yet
    log_in(portal, client)
    page = client.get("/mijn/overzicht").get_data(as_text=True)
    assert "Jan Jansen" in page and "+31612345678" in page
    t = token(client, "/mijn/overzicht")
    client.post(
        "/mijn/gegevens",
        data={"csrf_token": t, "name": "Jan J. Jansen", "email": "jan@example.nl", "channels": ["sms"]},
    )
    client.post("/mijn/pauze", data={"csrf_token": t, "until": "2026-12-24"})
    with db.session() as s:
        p = s.scalar(select(Participant))
        assert (p.name, p.channels, p.status) == ("Jan J. Jansen", ["sms"], ParticipantStatus.PAUSED)
    client.post("/mijn/hervatten", data={"csrf_token": t})
    client.post("/mijn/afmelden", data={"csrf_token": t})
    with db.session() as s:
        assert s.scalar(select(Participant)).status is ParticipantStatus.OPTED_OUT
    export = client.get("/mijn/gegevens.json")
    assert export.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(export.get_data(as_text=True))
    assert (
        data["deelnemer"]["naam"] == "Jan J. Jansen"
        and data["telefoonnummers"][0]["nummer"] == "+31612345678"
    )
    assert client.post("/mijn/verwijderen", data={"csrf_token": t}).status_code == 302  # not confirmed
    r = client.post("/mijn/verwijderen", data={"csrf_token": t, "confirm": "verwijder"})
    assert "verwijderd" in r.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(Participant)) is None and s.scalar(select(PhoneNumber)) is None
    assert client.get("/mijn/overzicht").status_code == 302


def test_login_by_email_link(portal, client, db):
    verified_participant(portal, client, db)
    r = client.post("/mijn", data={"csrf_token": token(client, "/mijn"), "identifier": "jan@example.nl"})
    assert "Kijk in uw e-mail" in r.get_data(as_text=True)
    link = [m for m in outbox(portal) if m.method == "email"][-1].text.split("127.0.0.1:5000")[1]
    assert client.get(link).headers["Location"].endswith("/mijn/overzicht")
    assert client.get(link).headers["Location"].endswith("/mijn")  # used once


# --- operators: admin and evaluation --------------------------------------------------------


def operator(db, role: Role, username: str) -> int:
    with db.transaction() as s:
        room = s.scalar(select(ControlRoom))
        op = Operator(
            username=username,
            display_name=username,
            role=role,
            control_room_id=room.id,
            password_hash=generate_password_hash("geheim-wachtwoord"),
        )
        s.add(op)
        s.flush()
        return op.id


def as_operator(client, clock, operator_id):
    with client.session_transaction() as sess:
        sess["_user_id"] = str(operator_id)  # where Flask-Login keeps the operator's id
        sess["logged_in_at"] = sess["last_seen"] = clock.now().isoformat()


@pytest.mark.parametrize(
    "url",
    [
        "/beheer/",
        "/beheer/gebruikers",
        "/beheer/meldkamers",
        "/beheer/trunks",
        "/beheer/instellingen",
        "/beheer/deelnemers?q=jan",
    ],
)
def test_admin_pages_need_the_admin_role(portal, client, db, clock, url):
    assert client.get(url).status_code == 302
    as_operator(client, clock, operator(db, Role.SUPERVISOR, "super"))
    assert client.get(url).status_code == 403
    as_operator(client, clock, operator(db, Role.ADMIN, "beheer"))
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/evaluatie/", "/evaluatie/export/acties.csv"])
def test_evaluation_needs_the_supervisor_role(portal, client, db, clock, url):
    as_operator(client, clock, operator(db, Role.CENTRALIST, "centralist"))
    assert client.get(url).status_code == 403
    as_operator(client, clock, operator(db, Role.SUPERVISOR, "super"))
    assert client.get(url).status_code == 200


def test_admin_manages_operators_rooms_trunks_and_settings(portal, client, db, clock, settings):
    admin = operator(db, Role.ADMIN, "beheer")
    as_operator(client, clock, admin)
    t = token(client, "/beheer/gebruikers")
    with db.session() as s:
        room_id = s.scalar(select(ControlRoom.id))
    r = client.post(
        "/beheer/gebruikers",
        data={
            "csrf_token": t,
            "username": "nieuw",
            "display_name": "Nieuwe",
            "password": "kort",
            "role": "centralist",
            "control_room_id": room_id,
        },
    )
    assert r.status_code == 302
    client.post(
        "/beheer/gebruikers",
        data={
            "csrf_token": t,
            "username": "nieuw",
            "display_name": "Nieuwe",
            "password": "lang-genoeg-1",
            "role": "supervisor",
            "control_room_id": room_id,
        },
    )
    client.post(
        f"/beheer/gebruikers/{admin}",
        data={"csrf_token": t, "role": "centralist", "active": "1", "control_room_id": room_id},
    )
    client.post(
        "/beheer/meldkamers",
        data={
            "csrf_token": t,
            "name": "Meldkamer Oost",
            "region": "Oost",
            "transfer_target": "+31501234567",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    client.post(
        "/beheer/trunks",
        data={
            "csrf_token": t,
            "name": "pbx-1",
            "backend": "asterisk",
            "max_channels": "60",
            "cps": "12,5",
            "prefix_caps": "+3115=20, +3170=40",
            "active": "1",
        },
    )
    client.post(
        "/beheer/trunks",
        data={"csrf_token": t, "name": "bad", "backend": "asterisk", "max_channels": "0", "cps": "1"},
    )
    r = client.post(
        "/beheer/instellingen",
        data={
            "csrf_token": t,
            "retention_days": "30",
            "quiet_start": "23:30",
            "quiet_end": "06:30",
            **{
                f"radius_{k}": "1500"
                for k in ("suspect", "missing_person", "missing_child", "vehicle", "other")
            },
        },
    )
    assert r.status_code == 302
    with db.session() as s:
        ops = {o.username: o.role for o in s.scalars(select(Operator))}
        assert ops == {
            "beheer": Role.ADMIN,
            "nieuw": Role.SUPERVISOR,
        }  # no self-demotion, short password refused
        room = s.scalar(select(ControlRoom).where(ControlRoom.name == "Meldkamer Oost"))
        assert (room.quiet_hours_start, room.quiet_hours_end) == ("22:00", "07:00")
        trunk = s.scalar(select(Trunk))
        assert (trunk.name, trunk.max_channels, trunk.cps, trunk.prefix_caps) == (
            "pbx-1",
            60,
            12.5,
            {"+3115": 20, "+3170": 40},
        )
        events = {e.event for e in s.scalars(select(AuditEvent))}
        assert {
            "admin.operator_created",
            "admin.control_room_saved",
            "admin.trunk_saved",
            "admin.settings_changed",
        } <= events
    assert settings.retention_days == 30 and settings.radius_by_incident["suspect"] == 1500
    assert str(settings.quiet_hours_start) == "23:30:00"
    # a new app on the same instance folder starts with the saved settings
    from app import create_app
    from config.settings import Settings

    fresh = Settings(
        _env_file=None,
        database_url=settings.database_url,
        instance_path=settings.instance_path,
        secret_key="x",
    )
    create_app(fresh).extensions["burgernet.db"].dispose()
    assert fresh.retention_days == 30


def test_participant_search_masks_numbers_unless_asked(portal, client, db, clock):
    verified_participant(portal, client, db)
    as_operator(client, clock, operator(db, Role.ADMIN, "beheer"))
    page = client.get("/beheer/deelnemers?q=jansen").get_data(as_text=True)
    assert "+316****5678" in page and "+31612345678" not in page
    assert "+31612345678" in client.get("/beheer/deelnemers?q=5678&toon=nummers").get_data(as_text=True)
    with db.session() as s:
        assert (
            s.scalar(select(AuditEvent).where(AuditEvent.event == "admin.phone_numbers_revealed")) is not None
        )


def test_evaluation_page_and_recruitment_page(portal, client, db, clock):
    verified_participant(portal, client, db)
    with db.transaction() as s:
        s.add(Municipality(name="Delft", population=106000))
    as_operator(client, clock, operator(db, Role.SUPERVISOR, "super"))
    page = client.get("/evaluatie/?van=2026-11-01&tot=2026-11-30").get_data(as_text=True)
    assert 'id="evaluation-data"' in page and "vendor/chartjs/chart.umd.min.js" in page
    assert '<td>Delft</td><td class="num">1</td>' in page
    csv_text = client.get("/evaluatie/export/gemeenten.csv?van=2026-11-01&tot=2026-11-30").get_data(
        as_text=True
    )
    assert "Delft;1;106000;0.01" in csv_text
    assert client.get("/evaluatie/?van=2026-12-01&tot=2026-11-01").status_code == 400
    recruitment = client.get("/aanmelden/gemeente/Delft").get_data(as_text=True)
    assert "Doe mee met Burgernet in Delft" in recruitment and "/aanmelden?gemeente=Delft" in recruitment
    assert client.get("/aanmelden/gemeente/Nergenshuizen").status_code == 404


def test_changed_email_is_confirmed_by_a_new_link(portal, client, db):
    verified_participant(portal, client, db)
    log_in(portal, client)
    t = token(client, "/mijn/overzicht")
    client.post(
        "/mijn/gegevens",
        data={
            "csrf_token": t,
            "name": "Jan Jansen",
            "email": "nieuw@example.nl",
            "channels": ["sms", "email"],
        },
    )
    page = client.get("/mijn/overzicht").get_data(as_text=True)
    assert "nog niet bevestigd" in page and "bevestigingslink" in page
    client.post("/mijn/email/link", data={"csrf_token": t})
    links = [m.text for m in outbox(portal) if m.target == "nieuw@example.nl"]
    assert len(links) == 2  # sent on the change, and again on request
    assert client.get(links[0].split("127.0.0.1:5000")[1]).status_code == 400  # replaced by the newer link
    assert client.get(links[1].split("127.0.0.1:5000")[1]).status_code == 200
    with db.session() as s:
        p = s.scalar(select(Participant))
        assert (p.email, p.email_verified) == ("nieuw@example.nl", True)


def test_a_verification_call_runs_on_the_configured_backend_and_its_events_land(portal, db, clock, settings):
    import time

    from db.models import Delivery, DeliveryEvent, DeliveryState, PhoneKind
    from participants.verification import Method, PortCourier, Purpose, VerificationService
    from web.signup import PortalCallBackend

    backend = PortalCallBackend(settings, db, clock)
    courier = PortCourier(call_backend=backend, caller_id=settings.caller_id, clock=clock)
    with db.transaction() as s:
        p = Participant(
            name="Vast",
            birth_year=1950,
            channels=["voice"],
            phones=[PhoneNumber(e164="+31152345678", kind=PhoneKind.LANDLINE)],
        )
        s.add(p)
        s.flush()
        VerificationService(s, clock, settings.portal, "k" * 32, courier).issue(
            p, Purpose.PHONE, "+31152345678", Method.VOICE
        )
    with db.session() as s:
        delivery_id = s.scalar(select(Delivery.id))
    clock.advance(120)  # the simulated network's time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.session() as s:
            if s.get(Delivery, delivery_id).state is not DeliveryState.DIALING:
                break
        time.sleep(0.05)
    with db.session() as s:
        assert s.get(Delivery, delivery_id).state is not DeliveryState.DIALING
        assert s.scalar(select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id)) is not None
    backend._backend.stop()
