"""The real message senders by channel, built from the settings.

In training mode the dialer uses its simulated sender instead (dialer/simulator.py); these
are the senders for a live platform: SMS through Twilio Messages, email over SMTP.
"""

from __future__ import annotations

from config.settings import Settings
from deliveries.message_sender import MessageSender
from messaging.smtp_email import SmtpEmailSender
from messaging.twilio_sms import TwilioSmsSender


def senders_from_settings(settings: Settings) -> dict[str, MessageSender]:
    return {"sms": TwilioSmsSender(settings), "email": SmtpEmailSender(settings)}
