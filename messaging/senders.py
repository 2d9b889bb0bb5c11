"""The real message senders by channel, built from the settings.

In training mode the dialer uses its simulated sender instead (dialer/simulator.py); these
are the senders for a live platform: SMS through Twilio Messages, email over SMTP.
"""
from __future__ import annotations

from config.settings import Settings
from messaging.port import MessageSender, OutgoingMessage
from messaging.smtp_email import SmtpEmailSender
from messaging.twilio_sms import TwilioSmsSender


def senders_from_settings(settings: Settings) -> dict[str, MessageSender]:
    return {"sms": TwilioSmsSender(settings), "email": SmtpEmailSender(settings)}


def outgoing_message(channel: str, target: str, *, sms_text: str, email_subject: str,
                     email_text: str, email_html: str | None = None,
                     delivery_id: int | None = None) -> OutgoingMessage:
    """One message for a delivery row from the composed texts (prompts.messages'
    `AlertMessage` of an alert or of an outcome message, the afloopbericht)."""
    if channel == "sms":
        return OutgoingMessage(channel="sms", to=target, text=sms_text, delivery_id=delivery_id)
    if channel == "email":
        return OutgoingMessage(channel="email", to=target, text=email_text, subject=email_subject,
                               html=email_html, delivery_id=delivery_id)
    raise ValueError(f"no message sender for channel {channel!r}")
