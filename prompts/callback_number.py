"""The call-back number a message names: the control room's own, else the platform's.

The one place for this rule. Alerts, outcome messages (afloopbericht) and their previews all
name the number of the action's control room when it has one, and otherwise the global
`settings.callback_number`; every composer of such a message asks here.
"""

from __future__ import annotations

from db.models import ControlRoom


def callback_number_for(room: ControlRoom | None, default: str) -> str:
    """`room.callback_number` when the room has one, else `default` (settings.callback_number)."""
    if room is not None and room.callback_number:
        return room.callback_number
    return default
