"""The numbers a message names: the call-back number, and the number that takes STOP.

The one place for these rules. Alerts, outcome messages (afloopbericht) and their previews all
name the number of the action's control room when it has one, and otherwise the global
`settings.callback_number`; every composer of such a message asks here. `sender_for` gives
what every SMS and e-mail says about who sends it and how to stop it.
"""

from __future__ import annotations

from config.settings import Settings
from db.models import ControlRoom
from prompts.messages import Sender


def callback_number_for(room: ControlRoom | None, default: str) -> str:
    """`room.callback_number` when the room has one, else `default` (settings.callback_number)."""
    if room is not None and room.callback_number:
        return room.callback_number
    return default


def same_number(a: str, b: str) -> bool:
    """Whether two ways of writing a number are the same Dutch number ("+318000011",
    "0800-0011", "0031 800 0011")."""

    def canonical(number: str) -> str:
        digits = "".join(ch for ch in number if ch.isdigit())
        if digits.startswith("00"):
            return digits[2:]
        return "31" + digits[1:] if digits.startswith("0") else digits

    return canonical(a) == canonical(b)


def stop_number(settings: Settings) -> str:
    """The number a participant texts STOP to: the number the platform sends its SMS from
    (twilio.messaging_from, else twilio.from_number), whose inbound texts reach
    /twilio/sms and messaging.inbound_sms. A Messaging Service SID or an alphanumeric sender
    cannot be answered, so then twilio.from_number is named. Written nationally for Dutch
    numbers ("+3197010200300" -> "097010200300"); empty when no number is configured (training
    mode), and the SMS then says to reply to the sender."""
    cfg = settings.twilio
    for candidate in (cfg.messaging_from, cfg.from_number):
        number = candidate.strip().replace(" ", "")
        if number and not number.startswith("MG") and number.lstrip("+").isdigit():
            return "0" + number[3:] if number.startswith("+31") else number
    return ""


def sender_for(room: ControlRoom | None, settings: Settings) -> Sender:
    """Who an action's messages come from (its control room) and where STOP goes."""
    return Sender(control_room=room.name if room is not None else "", stop_number=stop_number(settings))
