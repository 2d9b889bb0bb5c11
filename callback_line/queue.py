"""The control room's call queue as the platform sees it: positions, expected wait, the board.

The PBX (Asterisk app_queue) or Twilio (`<Enqueue>`) holds the callers; the rows say who waits
(`line_state` waiting, since `queued_at`), who talks to whom (connected, `answered_by`) and who
gave up (missed, with `wait_s`). `board()` is what the console's call-back view shows;
`close_stale()` ends rows a call can no longer update (the FastAGI server restarted mid-call):
they are missed callers, so nobody drops off the call-back list. `close_hung_up()` ends a
call's open rows when the provider reports the call over (a Twilio caller who hung up during a
prompt, when no flow step hears of it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callback_line import line_states
from config.logging import log_event
from db.models import Action, ControlRoom, Participant, Sighting

logger = logging.getLogger(__name__)

# How far back the average wait of answered callers counts for the expected wait.
EXPECTED_WAIT_WINDOW = timedelta(minutes=30)
# Missed callers on the board: the last day (older ones are in the sightings inbox).
MISSED_WINDOW = timedelta(hours=24)


def room_queue(session: Session, room_id: int) -> str | None:
    room = session.get(ControlRoom, room_id)
    return room.callback_queue if room is not None and room.callback_queue else None


def queue_position(session: Session, sighting: Sighting) -> int:
    """1 for the first caller in the room's queue; callers who joined earlier are ahead."""
    if sighting.queued_at is None:
        return 1
    ahead = session.scalar(
        select(func.count(Sighting.id)).where(
            Sighting.control_room_id == sighting.control_room_id,
            Sighting.line_state == line_states.WAITING,
            Sighting.id != sighting.id,
            (Sighting.queued_at < sighting.queued_at)
            | ((Sighting.queued_at == sighting.queued_at) & (Sighting.id < sighting.id)),
        )
    )
    return int(ahead or 0) + 1


def expected_wait_minutes(session: Session, room_id: int | None, position: int, now: datetime) -> int | None:
    """Position times the average wait of callers answered in the last half hour, in whole
    minutes (rounded up); None when nobody was answered lately (nothing honest to say)."""
    if room_id is None:
        return None
    average = session.scalar(
        select(func.avg(Sighting.wait_s)).where(
            Sighting.control_room_id == room_id,
            Sighting.line_state == line_states.CONNECTED,
            Sighting.wait_s.is_not(None),
            Sighting.queued_at >= now - EXPECTED_WAIT_WINDOW,
        )
    )
    if average is None:
        return None
    return max(1, math.ceil(float(average) * position / 60.0))


@dataclass(frozen=True)
class LineCall:
    """One call on the board."""

    id: int
    state: str
    caller_number: str | None  # None: withheld
    participant_name: str | None  # None: not a known participant (still welcome)
    action_id: int | None
    action_label: str | None
    distance_m: float | None
    received_at: datetime
    queued_at: datetime | None
    wait_s: float | None  # waited so far (waiting) or in all (connected, missed)
    answered_by: str | None
    called_back_at: datetime | None


@dataclass(frozen=True)
class Board:
    waiting: list[LineCall]
    talking: list[LineCall]
    missed: list[LineCall]


def board(session: Session, room_id: int, now: datetime) -> Board:
    """Who waits (longest first), who talks to whom, and the missed callers of the last day
    (not called back yet first, newest first)."""
    query = (
        select(Sighting, Participant.name, Action.id, Action.incident_type)
        .outerjoin(Participant, Participant.id == Sighting.participant_id)
        .outerjoin(Action, Action.id == Sighting.action_id)
        .where(Sighting.control_room_id == room_id)
    )
    waiting_rows = session.execute(
        query.where(Sighting.line_state == line_states.WAITING).order_by(Sighting.queued_at, Sighting.id)
    ).all()
    talking_rows = session.execute(
        query.where(Sighting.line_state == line_states.CONNECTED, Sighting.ended_at.is_(None)).order_by(
            Sighting.id
        )
    ).all()
    missed_rows = session.execute(
        query.where(Sighting.line_state == line_states.MISSED, Sighting.received_at >= now - MISSED_WINDOW)
        .order_by(Sighting.called_back_at.is_not(None), Sighting.received_at.desc(), Sighting.id.desc())
        .limit(200)
    ).all()
    return Board(
        waiting=[_item(row, now) for row in waiting_rows],
        talking=[_item(row, now) for row in talking_rows],
        missed=[_item(row, now) for row in missed_rows],
    )


def _item(row, now: datetime) -> LineCall:
    sighting, name, action_id, incident_type = row
    wait_s = sighting.wait_s
    if sighting.line_state == line_states.WAITING and sighting.queued_at is not None:
        wait_s = round(max(0.0, (now - sighting.queued_at).total_seconds()), 1)
    return LineCall(
        id=sighting.id,
        state=sighting.line_state or "",
        caller_number=sighting.caller_number,
        participant_name=name,
        action_id=action_id,
        action_label=f"{incident_type.value} #{action_id}" if action_id else None,
        distance_m=sighting.distance_m,
        received_at=sighting.received_at,
        queued_at=sighting.queued_at,
        wait_s=wait_s,
        answered_by=sighting.answered_by,
        called_back_at=sighting.called_back_at,
    )


def close_stale(
    session: Session, now: datetime, max_wait_s: int, max_ivr_s: int = 900, max_talk_s: int = 3600
) -> int:
    """End the rows of calls that can no longer end themselves: waiting longer than the queue's
    maximum (plus a minute), in the menus or recording for longer than `max_ivr_s`, or "in
    conversation" for longer than `max_talk_s`. Their FastAGI connection was lost (a restart
    mid-call). The first become missed callers; a conversation keeps "connected" and gets its
    end, so it leaves the console's list of who is talking. Returns how many rows were closed
    (committed)."""
    waiting_before = now - timedelta(seconds=max_wait_s + 60)
    open_before = now - timedelta(seconds=max_ivr_s)
    talking_before = now - timedelta(seconds=max_talk_s)
    rows = session.scalars(
        select(Sighting).where(
            ((Sighting.line_state == line_states.WAITING) & (Sighting.queued_at < waiting_before))
            | (
                Sighting.line_state.in_((line_states.IVR, line_states.RECORDING))
                & (Sighting.received_at < open_before)
            )
            | (
                (Sighting.line_state == line_states.CONNECTED)
                & Sighting.ended_at.is_(None)
                & (Sighting.received_at < talking_before)
            )
        )
    ).all()
    for sighting in rows:
        if sighting.line_state == line_states.RECORDING and not sighting.recording_error:
            sighting.recording_error = "the call ended without word from the IVR"
        line_states.close(sighting, now)
    session.commit()
    return len(rows)


def close_hung_up(session: Session, provider: str, call_id: str, now: datetime) -> list[Sighting]:
    """The provider says this call to the call-back line is over (Twilio's status callback of
    the number): the rows still in the menus or in the queue end now (missed, or connected if
    a centralist took the call), and a conversation gets its end, instead of when
    `close_stale` finds them. A row that is recording is left to the recording's own
    callback, which files what the caller said. Idempotent; committed and logged; returns the
    rows it ended."""
    if not call_id:
        return []
    rows = session.scalars(
        select(Sighting).where(
            Sighting.provider == provider,
            Sighting.provider_call_id == call_id,
            Sighting.line_state.in_((line_states.IVR, line_states.WAITING))
            | ((Sighting.line_state == line_states.CONNECTED) & Sighting.ended_at.is_(None)),
        )
    ).all()
    for sighting in rows:
        line_states.close(sighting, now)
    session.commit()
    for sighting in rows:
        log_ended(sighting, by="provider_status")
    return list(rows)


def log_ended(sighting: Sighting, by: str) -> None:
    """The one log line of a call to the line that is over: how it ended and how long it
    waited; `by` says who knew (the flow, or the provider's status of the call)."""
    log_event(
        logger,
        "callback.ended",
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        line_state=sighting.line_state,
        wait_s=sighting.wait_s,
        caller=sighting.caller_number or "withheld",
        by=by,
    )


def note_answered(session: Session, provider: str, call_id: str, agent: str, now: datetime) -> bool:
    """A centralist just took a waiting caller (the PBX's or Twilio's word, as it happens): the
    row says connected from now on, with who answered and how long the caller waited. The
    caller's flow learns it only when the conversation is over. Committed; False when no row
    of that call waits."""
    if not call_id:
        return False
    sighting = session.scalars(
        select(Sighting)
        .where(Sighting.provider == provider, Sighting.provider_call_id == call_id)
        .order_by(Sighting.id)
    ).first()
    if sighting is None or not line_states.advance(sighting, line_states.CONNECTED, now):
        return False
    sighting.transferred = True
    sighting.answered_by = (agent or "")[:120] or None
    session.commit()
    return True
