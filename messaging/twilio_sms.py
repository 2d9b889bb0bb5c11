"""SMS through Twilio's Messages API: the Twilio adapter of the MessageSender port.

Every message names a status callback carrying its delivery id, so Twilio's delivery reports
(sent, delivered, undelivered, failed) land on the right Delivery row (deliveries/message_status.py).
"""

from __future__ import annotations

import logging

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from config.logging import log_event, mask_phone
from config.settings import Settings
from deliveries.call_backend import OriginateError
from deliveries.message_sender import MessageChannel, OutgoingMessage, SendError, SendResult
from messaging.twilio_account import (
    PERMANENT_ERROR_CODES,
    PROVIDER,
    WebhookPaths,
    rest_client,
    to_e164,
    webhook_url,
)

log = logging.getLogger(__name__)


class TwilioSmsSender:
    channel: MessageChannel = "sms"
    provider = PROVIDER

    def __init__(self, settings: Settings, client: Client | None = None):
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Client:
        if self._client is None:
            try:
                self._client = rest_client(self.settings)
            except OriginateError as exc:
                raise SendError(str(exc), permanent=False) from exc
        return self._client

    def sender_number(self) -> str:
        cfg = self.settings.twilio
        sender = cfg.messaging_from or cfg.from_number
        if not sender:
            raise SendError("Twilio SMS is not configured: twilio.messaging_from is empty")
        # A Messaging Service SID or an alphanumeric sender id is passed as it is.
        if sender.startswith("MG") or not any(ch.isdigit() for ch in sender):
            return sender
        return to_e164(sender, self.settings.default_region)

    def create_params(self, message: OutgoingMessage) -> dict:
        if message.channel != "sms":
            raise SendError(f"the SMS sender cannot send {message.channel}", permanent=True)
        if not message.text.strip():
            raise SendError("an SMS needs text", permanent=True)
        sender = self.sender_number()
        params = {"to": message.to, "body": message.text}
        if sender.startswith("MG"):
            params["messaging_service_sid"] = sender
        else:
            params["from_"] = sender
        if message.delivery_id is not None:
            params["status_callback"] = webhook_url(
                self.settings, WebhookPaths.MESSAGE_STATUS, delivery=message.delivery_id
            )
        return params

    def send(self, message: OutgoingMessage) -> SendResult:
        params = self.create_params(message)
        try:
            created = self.client.messages.create(**params)
        except TwilioRestException as exc:
            permanent = exc.code in PERMANENT_ERROR_CODES or exc.code in {21602, 21603, 21606}
            log_event(
                log,
                "twilio.sms.refused",
                logging.WARNING,
                to=mask_phone(message.to),
                delivery_id=message.delivery_id,
                code=exc.code,
                permanent=permanent,
            )
            raise SendError(f"Twilio refused the SMS ({exc.code}): {exc.msg}", permanent=permanent) from exc
        except OSError as exc:
            raise SendError(f"Twilio unreachable: {exc}", permanent=False) from exc
        log_event(
            log,
            "twilio.sms.sent",
            to=mask_phone(message.to),
            delivery_id=message.delivery_id,
            message_sid=created.sid,
        )
        return SendResult(provider=PROVIDER, provider_id=created.sid)
