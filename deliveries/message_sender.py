"""The port for text messages. Adapters: Twilio Messages (SMS), SMTP (email), the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

MessageChannel = Literal["sms", "email"]


@dataclass(frozen=True)
class OutgoingMessage:
    channel: MessageChannel
    to: str  # E.164 number or email address
    text: str
    subject: str | None = None  # email only
    html: str | None = None  # email only
    delivery_id: int | None = None


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_id: str | None


class SendError(Exception):
    """The provider refused or could not be reached; `permanent` says whether to retry."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class MessageSender(Protocol):
    channel: MessageChannel

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider. Raises SendError."""
