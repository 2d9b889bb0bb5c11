"""Fixtures for the Twilio, SMS and email tests: the fake Twilio server, the platform served
over real HTTP (Twilio calls its webhooks back), a local SMTP server (aiosmtpd), seed rows."""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server

from config.settings import TwilioSettings
from db.models import (
    Action,
    ActionStatus,
    Address,
    AddressKind,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    GeocodeStatus,
    IncidentType,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
)
from fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "b" * 32
OUR_NUMBER = "+31851234567"  # the Twilio number: caller id, SMS sender, call-back line
CONTROL_ROOM = "+31703456789"
CENTRALIST = "+31703456700"
VOICE_TEXT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer dertig "
    "jaar met een rode jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    settings.phone_backend = "twilio"
    settings.twilio = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_base_url=fake_twilio.base_url,
        from_number=OUR_NUMBER,
        messaging_from=OUR_NUMBER,
        public_base_url="http://127.0.0.1:0",  # set to the live server below
        validate_signatures=True,
        request_timeout_s=20,
    )
    return settings


@dataclass
class LiveApp:
    app: object
    base_url: str
    errors: list = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def live_app(twilio_settings, clock):
    """The platform over real HTTP on a free port; Twilio's public URL points at it."""
    from app import create_app

    app = create_app(twilio_settings)
    app.extensions["burgernet.clock"] = clock
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    twilio_settings.twilio.public_base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveApp(app, base)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    app.extensions["burgernet.db"].dispose()


# --- seed rows ------------------------------------------------------------------------------


@dataclass
class Wave:
    room_id: int
    operator_id: int
    action_id: int
    participants: dict[str, int]  # number -> participant id
    deliveries: dict[str, int]  # target -> delivery id


def participant_with_number(session, number: str, *, name: str = "Deelnemer",
                            channels=("voice",), lat: float = 52.0126, lon: float = 4.3571,
                            email: str | None = None) -> Participant:
    participant = Participant(name=name, birth_year=1980, channels=list(channels), email=email,
                              email_verified=bool(email))
    participant.addresses.append(Address(kind=AddressKind.HOME, postcode="2611AB", house_number=1,
                                         lat=lat, lon=lon, geocode_status=GeocodeStatus.OK))
    participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
    session.add(participant)
    session.flush()
    return participant


def seed_wave(db, numbers: list[str], *, channel: Channel = Channel.VOICE,
              kind: DeliveryKind = DeliveryKind.ALERT) -> Wave:
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden",
                           transfer_target=CONTROL_ROOM, callback_number=OUR_NUMBER)
        s.add(room)
        s.flush()
        operator = Operator(username="centralist", display_name="C. Entralist", password_hash="x",
                            role=Role.CENTRALIST, control_room_id=room.id,
                            transfer_target=CENTRALIST)
        s.add(operator)
        s.flush()
        action = Action(control_room_id=room.id, incident_type=IncidentType.SUSPECT,
                        voice_text=VOICE_TEXT, sms_text="Burgernet: kijk uit naar een man met rode jas.",
                        location_label="Markt, Delft", lat=52.0116, lon=4.3571, radius_m=1000,
                        channels=[channel.value], status=ActionStatus.RUNNING,
                        started_by_id=operator.id, started_at=None)
        s.add(action)
        s.flush()
        participants, deliveries = {}, {}
        for rank, number in enumerate(numbers):
            participant = participant_with_number(s, number, name=f"Deelnemer {rank}")
            delivery = Delivery(action_id=action.id, participant_id=participant.id, kind=kind,
                                channel=channel, target=number, phone_kind=PhoneKind.MOBILE,
                                rank=rank, state=DeliveryState.QUEUED)
            s.add(delivery)
            s.flush()
            participants[number] = participant.id
            deliveries[number] = delivery.id
        return Wave(room.id, operator.id, action.id, participants, deliveries)


# --- SMTP ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it accepted."""

    def __init__(self):
        self.envelopes = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()
