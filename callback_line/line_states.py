"""Where a call to the call-back line is: one transition table, one function that moves a row.

    ivr ──> waiting ──> connected
     │  │      │  └──> recording ──> recorded
     │  │      └─────> missed         │  └──> connected (put through after a partial recording)
     │  └──> connected / recording    └──> missed (the recording never reached the store)
     └──> missed

`ivr`: the caller hears the welcome and the menus. `waiting`: in the control room's call queue.
`recording`: speaking after the beep. `ended_at` is stamped when the call is over (for a
connected call: when the conversation ended). The ends: `connected` (a centralist took the call),
`recorded` (a recording was kept, whole or in part) and `missed` (nobody heard the caller and
nothing was kept: on the call-back list with the caller's number and how long they waited).
A missed caller can still be called back from the console (`called_back_at`); that is not a
state of the call itself.
"""

from __future__ import annotations

from datetime import datetime

from db.models import Sighting

IVR = "ivr"
WAITING = "waiting"
RECORDING = "recording"
CONNECTED = "connected"
RECORDED = "recorded"
MISSED = "missed"

ENDED = frozenset({CONNECTED, RECORDED, MISSED})
OPEN = frozenset({IVR, WAITING, RECORDING})

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({IVR}),
    IVR: frozenset({WAITING, RECORDING, CONNECTED, MISSED}),
    WAITING: frozenset({CONNECTED, RECORDING, MISSED, IVR}),
    RECORDING: frozenset({RECORDED, MISSED, IVR}),
    RECORDED: frozenset({CONNECTED}),
    CONNECTED: frozenset(),
    MISSED: frozenset(),
}


class LineStateError(ValueError):
    """A transition the table does not allow (a bug, or two events about one call crossing)."""


def can_move(current: str | None, new: str) -> bool:
    return current == new or new in TRANSITIONS.get(current, frozenset())


def move(sighting: Sighting, new: str, now: datetime) -> bool:
    """Move the call's row to `new`; False (and no change) when it is there already. Entering
    `waiting` stamps `queued_at`; an end stamps `ended_at` and, for a caller who was waiting,
    how long they waited when the renderer did not say."""
    current = sighting.line_state
    if current == new:
        return False
    if not can_move(current, new):
        raise LineStateError(f"sighting {sighting.id}: cannot go from {current} to {new}")
    if new == WAITING:
        sighting.queued_at = now
    if new in (RECORDED, MISSED):
        sighting.ended_at = now  # a connected call ends with its conversation: `close`
    if current == WAITING and sighting.wait_s is None and sighting.queued_at is not None:
        sighting.wait_s = round(max(0.0, (now - sighting.queued_at).total_seconds()), 1)
    sighting.line_state = new
    return True


def advance(sighting: Sighting, new: str, now: datetime) -> bool:
    """`move`, for events from a phone system: a provider that reports a call again (its
    webhook retried, the same call id twice) finds the row further along; the row keeps what
    it says instead of raising. False when nothing changed."""
    if not can_move(sighting.line_state, new):
        return False
    return move(sighting, new, now)


def final_state(sighting: Sighting) -> str:
    """How a call that is over ended, from what its row says."""
    if sighting.line_state in ENDED:
        return sighting.line_state
    if sighting.transferred:
        return CONNECTED
    if sighting.recording_status in ("complete", "truncated"):
        return RECORDED
    return MISSED


def close(sighting: Sighting, now: datetime) -> str:
    """The call is over: move the row to the end its facts say (connected, recorded, missed).

    One correction of an end: a row the provider's status closed as missed while its transfer
    was still being reported (Twilio's status callback can come before the <Dial> action) is
    connected once the transfer says it was answered."""
    if sighting.line_state == MISSED and sighting.transferred:
        sighting.line_state = CONNECTED
    end = final_state(sighting)
    if sighting.line_state is None:
        sighting.line_state = IVR
    if sighting.line_state != end:
        if sighting.line_state == RECORDING and end == CONNECTED:
            move(sighting, RECORDED if sighting.recording_status in ("complete", "truncated") else IVR, now)
        move(sighting, end, now)
    if sighting.ended_at is None:
        sighting.ended_at = now
    return end
