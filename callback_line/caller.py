"""Who is calling the call-back number, and which running action they are calling about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from config.local_time import to_local
from db.models import (
    Action,
    ActionStatus,
    ControlRoom,
    Delivery,
    DeliveryKind,
    IncidentType,
    PhoneNumber,
)

MAX_CHOICES = 9  # one digit per action


@dataclass(frozen=True)
class Caller:
    """The calling number in E.164 (None when withheld or unusable) and the participants
    registered with it (a household landline may belong to several)."""

    number: str | None
    participant_ids: tuple[int, ...]

    @property
    def known(self) -> bool:
        return bool(self.participant_ids)


def normalize_number(raw: str | None, region: str = "NL") -> str | None:
    """'0612345678', '0031612345678', '31612345678' and '+31612345678' -> '+31612345678';
    withheld or malformed numbers ('anonymous', 'unknown', '') -> None."""
    text = (raw or "").strip().replace(" ", "").replace("-", "")
    if not text or not any(ch.isdigit() for ch in text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    candidates = [text] if text.startswith("+") else [text, "+" + text]
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def identify_caller(session: Session, raw_number: str | None, region: str = "NL") -> Caller:
    number = normalize_number(raw_number, region)
    if number is None:
        return Caller(None, ())
    ids = session.scalars(
        select(PhoneNumber.participant_id)
        .where(PhoneNumber.e164 == number)
        .order_by(PhoneNumber.participant_id)
    ).all()
    return Caller(number, tuple(dict.fromkeys(ids)))


def room_for_dialed_number(session: Session, dialed: str | None, region: str = "NL") -> int | None:
    """The control room whose call-back number was dialed; the only room when there is one."""
    wanted = normalize_number(dialed, region)
    rooms = session.execute(select(ControlRoom.id, ControlRoom.callback_number)).all()
    if wanted:
        for room_id, callback_number in rooms:
            if normalize_number(callback_number, region) == wanted:
                return room_id
    return rooms[0][0] if len(rooms) == 1 else None


def _running() -> Select[Action]:
    return (
        select(Action)
        .where(Action.status == ActionStatus.RUNNING)
        .order_by(Action.started_at.desc(), Action.id.desc())
    )


def alerted_actions(session: Session, caller: Caller) -> list[Action]:
    """Running actions this caller's number, or a participant registered with it, was alerted for."""
    if caller.number is None:
        return []
    reached = Delivery.target == caller.number
    if caller.participant_ids:
        reached = reached | Delivery.participant_id.in_(caller.participant_ids)
    alerted = select(Delivery.action_id).where(Delivery.kind == DeliveryKind.ALERT, reached)
    return list(session.scalars(_running().where(Action.id.in_(alerted)).limit(MAX_CHOICES)))


def candidate_actions(session: Session, caller: Caller, room_id: int | None) -> list[Action]:
    """The actions the caller can report on, newest first (at most nine): the ones they were
    alerted for, else every running action of the control room, else every running action."""
    actions = alerted_actions(session, caller)
    if actions:
        return actions
    query = _running()
    if room_id is not None:
        query = query.where(Action.control_room_id == room_id)
    return list(session.scalars(query.limit(MAX_CHOICES)))


def alert_delivery(session: Session, caller: Caller, action_id: int) -> Delivery | None:
    """The alert to this caller for the action (their number first, else their participant's)."""
    if caller.number is None:
        return None
    reached = Delivery.target == caller.number
    if caller.participant_ids:
        reached = reached | Delivery.participant_id.in_(caller.participant_ids)
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.action_id == action_id, Delivery.kind == DeliveryKind.ALERT, reached)
        .order_by(Delivery.id)
    ).all()
    return next((d for d in rows if d.target == caller.number), rows[0] if rows else None)


_INCIDENT_PHRASE = {
    IncidentType.SUSPECT: "over een verdachte",
    IncidentType.MISSING_PERSON: "over een vermiste persoon",
    IncidentType.MISSING_CHILD: "over een vermist kind",
    IncidentType.VEHICLE: "over een voertuig",
    IncidentType.OTHER: "",
}


def describe_action(action: Action, timezone: str) -> str:
    """Dutch words that tell actions apart on the phone: 'de oproep van 14 uur 50 over een
    verdachte, bij Markt, Delft'."""
    parts = ["de oproep"]
    if action.started_at is not None:
        local = to_local(action.started_at, timezone)
        parts.append(f"van {_spoken_time(local)}")
    phrase = _INCIDENT_PHRASE.get(action.incident_type, "")
    if phrase:
        parts.append(phrase)
    text = " ".join(parts)
    if action.location_label:
        text += f", bij {action.location_label}"
    return text


def _spoken_time(moment: datetime) -> str:
    return f"{moment.hour} uur" if moment.minute == 0 else f"{moment.hour} uur {moment.minute:02d}"
