"""Rows and helpers the Twilio, SMS and email tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

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

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "b" * 32
OUR_NUMBER = "+31851234567"  # the Twilio number: caller id, SMS sender, call-back line
CONTROL_ROOM = "+31703456789"
CENTRALIST = "+31703456700"
VOICE_TEXT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer dertig "
    "jaar met een rode jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)


# --- seed rows ------------------------------------------------------------------------------


@dataclass
class Wave:
    room_id: int
    operator_id: int
    action_id: int
    participants: dict[str, int]  # number -> participant id
    deliveries: dict[str, int]  # target -> delivery id


def participant_with_number(
    session,
    number: str,
    *,
    name: str = "Deelnemer",
    channels=("voice",),
    lat: float = 52.0126,
    lon: float = 4.3571,
    email: str | None = None,
) -> Participant:
    participant = Participant(
        name=name, birth_year=1980, channels=list(channels), email=email, email_verified=bool(email)
    )
    participant.addresses.append(
        Address(
            kind=AddressKind.HOME,
            postcode="2611AB",
            house_number=1,
            lat=lat,
            lon=lon,
            geocode_status=GeocodeStatus.OK,
        )
    )
    participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
    session.add(participant)
    session.flush()
    return participant


def seed_wave(
    db, numbers: list[str], *, channel: Channel = Channel.VOICE, kind: DeliveryKind = DeliveryKind.ALERT
) -> Wave:
    with db.transaction() as s:
        room = ControlRoom(
            name="Meldkamer Haaglanden",
            region="Haaglanden",
            transfer_target=CONTROL_ROOM,
            callback_number=OUR_NUMBER,
        )
        s.add(room)
        s.flush()
        operator = Operator(
            username="centralist",
            display_name="C. Entralist",
            password_hash="x",
            role=Role.CENTRALIST,
            control_room_id=room.id,
            transfer_target=CENTRALIST,
        )
        s.add(operator)
        s.flush()
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.SUSPECT,
            description={"gender": "male", "clothing": "rode jas"},
            voice_text=VOICE_TEXT,
            sms_text="Burgernet: kijk uit naar een man met rode jas.",
            location_label="Markt, Delft",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=[channel.value],
            status=ActionStatus.RUNNING,
            started_by_id=operator.id,
            started_at=None,
        )
        s.add(action)
        s.flush()
        participants, deliveries = {}, {}
        for rank, number in enumerate(numbers):
            participant = participant_with_number(s, number, name=f"Deelnemer {rank}")
            delivery = Delivery(
                action_id=action.id,
                participant_id=participant.id,
                kind=kind,
                channel=channel,
                target=number,
                phone_kind=PhoneKind.MOBILE,
                rank=rank,
                state=DeliveryState.QUEUED,
            )
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
