"""The centralist's console: one blueprint, "console", its views split by concern.

- overview: the actions of the operator's control room
- form: the new-action form, its live preview (figures and audio) and the address search
- confirm: the confirmation that states the numbers, and the start (actions.start)
- live: the live action page, its progress JSON and its server-sent events
- sightings: the recorded sightings of an action (audio, handled)
- changing: an update (vervolgbericht) or a changed circle of a running action (actions.change)
- ending: the outcome message's preview and the end of an action (actions.end)
- audit: the audit trail of the control room (supervisors)
- training: the trainer's simulated call-back (training mode only)
- callback_line: the call-back view (queue, conversations, missed callers, presence)

Every page needs a logged-in operator and shows only the operator's own control room. The
rules live in actions/; these modules translate requests and Dutch errors.
"""

from __future__ import annotations

from web.console import (  # noqa: F401  (views)
    audit,
    callback_line,
    changing,
    confirm,
    ending,
    form,
    live,
    overview,
    sightings,
    training,
)
from web.console.blueprint import bp

__all__ = ["bp"]
