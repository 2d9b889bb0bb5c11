"""Email over SMTP (smtplib): the SMTP adapter of the MessageSender port.

Plain text always, HTML as an alternative part when given. TLS from settings.smtp: `use_ssl`
(implicit TLS, port 465) or `starttls` (upgrade on 587/25); login when a username is set.
One connection per message keeps the adapter simple and safe across threads; a wave's email
share is small next to its calls.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from config.logging import log_event
from config.settings import Settings
from deliveries.message_sender import MessageChannel, OutgoingMessage, SendError, SendResult

log = logging.getLogger(__name__)

PROVIDER = "smtp"


def _masked_address(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    """The MIME message (pure): text/plain, with text/html as an alternative when given."""
    if message.channel != "email":
        raise SendError(f"the email sender cannot send {message.channel}", permanent=True)
    if "@" not in message.to or any(ch in message.to for ch in "\r\n<>,; "):
        raise SendError(f"not an email address: {_masked_address(message.to)}", permanent=True)
    if not message.subject:
        raise SendError("an email needs a subject", permanent=True)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    domain = sender.rpartition("@")[2].strip(">") or "burgernet.invalid"
    email["Message-ID"] = make_msgid(domain=domain)
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpEmailSender:
    channel: MessageChannel = "email"
    provider = PROVIDER

    def __init__(self, settings: Settings, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.ssl_context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        cfg = self.settings.smtp
        context = self.ssl_context or ssl.create_default_context()
        timeout = 30
        if cfg.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
            if cfg.starttls:
                smtp.starttls(context=context)
        if cfg.username:
            smtp.login(cfg.username, cfg.password)
        return smtp

    def send(self, message: OutgoingMessage) -> SendResult:
        email = build_email(message, self.settings.smtp.sender)
        try:
            with self._connect() as smtp:
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(
                f"the mail server refused the address: {exc.recipients and list(exc.recipients.values())[0]}",
                permanent=True,
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP login refused ({exc.smtp_code})", permanent=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP failed: {exc}", permanent=False) from exc
        log_event(
            log,
            "smtp.sent",
            to=_masked_address(message.to),
            delivery_id=message.delivery_id,
            message_id=email["Message-ID"],
        )
        return SendResult(provider=PROVIDER, provider_id=email["Message-ID"])
