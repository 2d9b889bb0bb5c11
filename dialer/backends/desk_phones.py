"""The desk-phone adapters (callback_line.desk_phones.DeskPhones): Asterisk, Twilio, simulator.

Asterisk: click-to-call is one AMI Originate to the centralist's desk (Channel = the desk's dial
target) into the dialplan context `burgernet-call-back`, which dials the caller through the
trunk once the desk answered (BURGERNET_CALL_BACK_DIAL). Presence is a pause of the desk's
interface in the control room's queue, done by the dialplan ([burgernet-presence]) on an
Originate, as the AMI user has no `agent` right. Each request uses its own short AMI connection: the
console asks rarely, and a web worker keeps no link open.

Twilio: a call to the desk (a number or sip: URI) whose TwiML dials the caller; presence is kept
in the platform's database (the Twilio queue has no members to pause).
"""

from __future__ import annotations

import logging

from asterisk.manager import ManagerException
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import Dial, VoiceResponse

from callback_line.desk_phones import DeskPhoneError
from config.logging import log_event
from config.settings import Settings
from dialer.backends.asterisk import AmiError, AmiLink, ami_variable
from messaging.twilio_account import rest_client, to_e164

logger = logging.getLogger(__name__)

CALL_BACK_CONTEXT = "burgernet-call-back"
PRESENCE_CONTEXT = "burgernet-presence"
DESK_RING_S = 30


class AsteriskDeskPhones:
    name = "asterisk"

    def __init__(self, settings: Settings):
        self.settings = settings

    def _send(self, action: dict) -> str:
        link = AmiLink(self.settings.asterisk, "desk", "off")
        try:
            link.connect()
            response = link.send(action)
        except (AmiError, ManagerException) as exc:
            raise DeskPhoneError(f"AMI: {exc}") from exc
        finally:
            link.close()
        if response.get_header("Response") != "Success":
            raise DeskPhoneError(f"Asterisk refused {action['Action']}: {response.get_header('Message')}")
        return response.get_header("ActionID") or ""

    def call_back(self, desk: str, number: str, reference: str) -> str | None:
        dial = self.settings.asterisk.dial_template.format(number=number.lstrip("+"))
        action_id = f"bn-cb-{reference}"
        self._send(
            {
                "Action": "Originate",
                "ActionID": action_id,
                "Channel": desk,
                "Context": CALL_BACK_CONTEXT,
                "Exten": "s",
                "Priority": "1",
                "Timeout": str(DESK_RING_S * 1000),
                # The desk's display shows whom it is about to call.
                "CallerID": f'"Terugbellen" <{number}>',
                "Async": "true",
                "Variable": [
                    ami_variable("BURGERNET_CALL_BACK_DIAL", dial),
                    ami_variable("BURGERNET_CALL_BACK_CALLER_ID", self.settings.caller_id),
                    ami_variable("BURGERNET_CALL_BACK_REF", reference),
                ],
            }
        )
        log_event(logger, "desk.call_back", desk=desk, caller=number, reference=reference)
        return action_id

    def set_presence(self, desk: str, queue: str, available: bool, reason: str) -> None:
        # Through the dialplan ([burgernet-presence]): the platform's AMI user may originate but
        # has no `agent` right for QueuePause (least privilege, config/asterisk/README.md).
        self._send(
            {
                "Action": "Originate",
                "ActionID": f"bn-presence-{'unpause' if available else 'pause'}",
                "Channel": f"Local/{'unpause' if available else 'pause'}@{PRESENCE_CONTEXT}/n",
                "Application": "NoOp",
                "Data": "Burgernet presence",
                "Timeout": "5000",
                # Synchronous: the dialplan answers once the member is paused, so Success means done.
                "Async": "false",
                "Variable": [
                    ami_variable("BURGERNET_PRESENCE_QUEUE", queue),
                    ami_variable("BURGERNET_PRESENCE_INTERFACE", desk),
                    ami_variable("BURGERNET_PRESENCE_REASON", reason[:60]),
                ],
            }
        )
        log_event(logger, "desk.presence", desk=desk, queue=queue, available=available)


class TwilioDeskPhones:
    name = "twilio"

    def __init__(self, settings: Settings):
        self.settings = settings

    def call_back(self, desk: str, number: str, reference: str) -> str | None:
        twiml = VoiceResponse()
        dial = Dial(caller_id=self.settings.twilio.from_number or self.settings.caller_id)
        dial.number(number)
        twiml.append(dial)
        try:
            to = desk if desk.startswith("sip:") else to_e164(desk, self.settings.default_region)
            call = rest_client(self.settings).calls.create(
                to=to,
                from_=self.settings.twilio.from_number or self.settings.caller_id,
                twiml=str(twiml),
                timeout=DESK_RING_S,
            )
        except (TwilioException, ValueError) as exc:
            raise DeskPhoneError(f"Twilio: {exc}") from exc
        log_event(logger, "desk.call_back", desk=desk, caller=number, reference=reference, call_sid=call.sid)
        return str(call.sid)

    def set_presence(self, desk: str, queue: str, available: bool, reason: str) -> None:
        log_event(logger, "desk.presence", desk=desk, queue=queue, available=available, provider="twilio")


class SimulatedDeskPhones:
    """Training mode: nothing rings; the requests are remembered (and logged) for the trainer."""

    name = "simulator"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.presence: list[tuple[str, str, bool]] = []

    def call_back(self, desk: str, number: str, reference: str) -> str | None:
        self.calls.append((desk, number, reference))
        log_event(logger, "desk.call_back", desk=desk, caller=number, reference=reference, provider="sim")
        return f"sim-{reference}"

    def set_presence(self, desk: str, queue: str, available: bool, reason: str) -> None:
        self.presence.append((desk, queue, available))
        log_event(logger, "desk.presence", desk=desk, queue=queue, available=available, provider="simulator")
