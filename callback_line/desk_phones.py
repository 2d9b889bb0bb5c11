"""The port to the centralists' desk phones: click-to-call and presence in the call queue.

Three adapters implement it (dialer.backends): Asterisk over AMI (Originate to the desk, then
the caller; QueuePause), Twilio (a call to the desk that dials the caller; presence is kept in
the database only) and the simulator (training mode: nothing rings, the request is logged).
"""

from __future__ import annotations

from typing import Protocol


class DeskPhoneError(Exception):
    """The phone system did not take the request; `str()` says why (for the operator's log)."""


class DeskPhones(Protocol):
    name: str

    def call_back(self, desk: str, number: str, reference: str) -> str | None:
        """Ring the centralist's `desk` (a dial target: PJSIP/..., a number, sip:...) first;
        when it answers, call `number` (E.164) and connect the two. `reference` names the call
        in the provider's records. Returns the provider's id when known."""

    def set_presence(self, desk: str, queue: str, available: bool, reason: str) -> None:
        """Offer callers in `queue` to `desk` (available) or not (busy: the member paused)."""
