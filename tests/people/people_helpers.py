"""Helpers for the participants' portal tests: a recording courier, test stand-ins, builders."""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers

from db.models import (
    Action,
    ActionStatus,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    MessageHeard,
    Outcome,
    PhoneKind,
)


class RecordingCourier:
    """A CodeCourier that keeps what it would send, so a test can read the code."""

    def __init__(self):
        self.sent = []

    def send_code(self, session, participant, purpose, method, target, code, link):
        self.sent.append(
            {
                "participant": participant.id,
                "purpose": purpose,
                "method": method,
                "target": target,
                "code": code,
                "link": link,
            }
        )

    def last(self, target=None):
        for item in reversed(self.sent):
            if target is None or item["target"] == target:
                return item
        raise AssertionError(f"nothing sent to {target}")


def parse_phone(raw: str) -> tuple[str, PhoneKind]:
    """Test stand-in with the same contract as the participants core's parser."""
    number = phonenumbers.parse(raw, "NL")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("ongeldig nummer")
    kind = (
        PhoneKind.MOBILE
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        else PhoneKind.LANDLINE
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind


def geocode_delft(session, address) -> None:
    """Test stand-in geocoder: every address lands in the centre of Delft."""
    from db.models import GeocodeStatus

    address.lat, address.lon, address.municipality = 52.0116, 4.3571, "Delft"
    address.geocode_status = GeocodeStatus.OK


def control_room(s, name="Meldkamer Haaglanden") -> ControlRoom:
    room = ControlRoom(name=name, region="Haaglanden", transfer_target="+31701234567")
    s.add(room)
    s.flush()
    return room


def ended_action(
    s,
    room,
    started: datetime,
    minutes=30,
    outcome=Outcome.NO_RESULT,
    incident=IncidentType.SUSPECT,
    lat=52.0116,
    lon=4.3571,
    training=False,
) -> Action:
    action = Action(
        control_room_id=room.id,
        incident_type=incident,
        lat=lat,
        lon=lon,
        radius_m=1000,
        channels=["voice", "sms"],
        status=ActionStatus.ENDED,
        outcome=outcome,
        started_at=started,
        ended_at=started + timedelta(minutes=minutes),
        training=training,
    )
    s.add(action)
    s.flush()
    return action


def delivery(
    s,
    action,
    participant,
    channel=Channel.VOICE,
    kind=PhoneKind.MOBILE,
    state=DeliveryState.COMPLETED,
    acknowledged=False,
    target=None,
) -> Delivery:
    d = Delivery(
        action_id=action.id if action else None,
        participant_id=participant.id if participant else None,
        kind=DeliveryKind.ALERT if action else DeliveryKind.VERIFICATION,
        channel=channel,
        target=target
        or (participant.phones[0].e164 if participant and participant.phones else "x@example.nl"),
        phone_kind=kind if channel is not Channel.EMAIL else None,
        state=state,
        acknowledged=acknowledged,
        answered_by="human",
        # A completed call played the whole message (reached = heard it, deliveries.listening).
        heard=MessageHeard.ALL if state is DeliveryState.COMPLETED and channel is Channel.VOICE else None,
        provider="simulator",
        provider_id=f"sim-{id(object())}",
    )
    s.add(d)
    s.flush()
    return d
