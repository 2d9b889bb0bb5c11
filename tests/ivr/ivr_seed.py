"""Rows the IVR and call-back tests share: a control room, a centralist, a participant with an
address and a phone, a running action and the delivery that alerted the participant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fake_asterisk import fake_call_id

from db.models import (
    Action,
    ActionStatus,
    Address,
    AddressKind,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryState,
    GeocodeStatus,
    IncidentType,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
)

VOICE_TEXT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer dertig "
    "jaar met een rode jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)
PARTICIPANT_NUMBER = "+31612345678"
STARTED = datetime(2026, 11, 28, 13, 50, tzinfo=UTC)


@dataclass
class Seeded:
    room_id: int
    operator_id: int
    participant_id: int
    action_id: int
    delivery_id: int


def seed_room(
    session,
    name: str = "Meldkamer Haaglanden",
    callback_number: str | None = "+318000011",
    transfer_target: str = "+31703456700",
) -> ControlRoom:
    room = ControlRoom(
        name=name, region="Haaglanden", transfer_target=transfer_target, callback_number=callback_number
    )
    session.add(room)
    session.flush()
    return room


def seed_action(
    session,
    room: ControlRoom,
    operator: Operator | None,
    *,
    label: str = "Markt, Delft",
    lat: float = 52.0116,
    lon: float = 4.3571,
    started: datetime = STARTED,
    status: ActionStatus = ActionStatus.RUNNING,
) -> Action:
    action = Action(
        control_room_id=room.id,
        incident_type=IncidentType.SUSPECT,
        voice_text=VOICE_TEXT,
        location_label=label,
        lat=lat,
        lon=lon,
        radius_m=1000,
        channels=["voice"],
        status=status,
        started_at=started,
        started_by_id=operator.id if operator else None,
    )
    session.add(action)
    session.flush()
    return action


def seed_all(db, *, operator_target: str | None = "+31703456701") -> Seeded:
    with db.transaction() as s:
        room = seed_room(s)
        operator = Operator(
            username="jdevries",
            display_name="J. de Vries",
            password_hash="x",
            role=Role.CENTRALIST,
            control_room_id=room.id,
            transfer_target=operator_target,
        )
        s.add(operator)
        participant = Participant(name="Anna Jansen", birth_year=1980, channels=["voice"])
        participant.addresses.append(
            Address(
                kind=AddressKind.HOME,
                postcode="2611AB",
                house_number=1,
                lat=52.0206,
                lon=4.3571,
                geocode_status=GeocodeStatus.OK,
            )
        )
        participant.phones.append(PhoneNumber(e164=PARTICIPANT_NUMBER, kind=PhoneKind.MOBILE, verified=True))
        s.add(participant)
        s.flush()
        action = seed_action(s, room, operator)
        delivery = Delivery(
            action_id=action.id,
            participant_id=participant.id,
            channel=Channel.VOICE,
            target=PARTICIPANT_NUMBER,
            phone_kind=PhoneKind.MOBILE,
            distance_m=1000.0,
            state=DeliveryState.ANSWERED,
            answered_at=STARTED + timedelta(minutes=1),
        )
        s.add(delivery)
        s.flush()
        delivery.provider, delivery.provider_id = "asterisk", fake_call_id(delivery.id)
        return Seeded(room.id, operator.id, participant.id, action.id, delivery.id)
