"""Use cases of the console's call-back view: call a missed caller back, set one's presence.

Both are audited (who, what, when). A caller is called back through the centralist's own desk
phone (Operator.transfer_target, else the control room's): the desk rings first, then the
caller, so the centralist is on the line before the caller answers.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from callback_line import line_states
from callback_line.desk_phones import DeskPhoneError, DeskPhones
from config.clock import Clock
from config.logging import log_event, mask_phone
from db.audit import record_audit
from db.models import ControlRoom, Operator, Sighting

logger = logging.getLogger(__name__)


class CallBackRefused(Exception):
    """The call-back cannot be placed; the message is Dutch, for the centralist."""


def desk_of(session: Session, operator: Operator) -> str:
    if operator.transfer_target:
        return operator.transfer_target
    room = session.get(ControlRoom, operator.control_room_id)
    if room is None or not room.transfer_target:
        raise CallBackRefused("Er is geen toestel ingesteld om vanaf te bellen.")
    return room.transfer_target


def call_back_missed(
    session: Session, phones: DeskPhones, clock: Clock, operator: Operator, sighting_id: int, ip: str | None
) -> Sighting:
    """Ring the operator's desk, then the missed caller. Committed, with the audit entry."""
    sighting = session.get(Sighting, sighting_id)
    if sighting is None or sighting.control_room_id != operator.control_room_id:
        raise CallBackRefused("Deze beller is niet gevonden.")
    if sighting.line_state != line_states.MISSED:
        raise CallBackRefused("Deze beller staat niet op de terugbellijst.")
    if not sighting.caller_number:
        raise CallBackRefused("Deze beller had een afgeschermd nummer; terugbellen kan niet.")
    desk = desk_of(session, operator)
    try:
        provider_id = phones.call_back(desk, sighting.caller_number, f"sighting-{sighting.id}")
    except DeskPhoneError as exc:
        log_event(
            logger,
            "callback.call_back_failed",
            sighting_id=sighting.id,
            caller=mask_phone(sighting.caller_number),
            error=str(exc),
        )
        raise CallBackRefused("Terugbellen is niet gelukt: de telefooncentrale weigerde de oproep.") from exc
    sighting.called_back_at = clock.now()
    sighting.called_back_by_id = operator.id
    record_audit(
        session,
        "callback.called_back",
        operator=operator,
        target_type="sighting",
        target_id=sighting.id,
        ip=ip,
        desk=desk,
        provider=phones.name,
        provider_id=provider_id or "",
    )
    session.commit()
    return sighting


def set_presence(
    session: Session, phones: DeskPhones, operator: Operator, available: bool, ip: str | None
) -> None:
    """Available: callers in the control room's queue are offered to this desk; busy: not."""
    room = session.get(ControlRoom, operator.control_room_id)
    queue = room.callback_queue if room is not None else None
    if queue:
        try:
            phones.set_presence(desk_of(session, operator), queue, available, f"operator {operator.username}")
        except DeskPhoneError as exc:
            message = "De telefooncentrale nam de status niet over. Probeer het opnieuw."
            raise CallBackRefused(message) from exc
    operator.available = available
    record_audit(
        session,
        "callback.presence",
        operator=operator,
        target_type="operator",
        target_id=operator.id,
        ip=ip,
        available=available,
        queue=queue or "",
    )
    session.commit()
