"""Email over SMTP against a local aiosmtpd server: plain text + HTML, refusals, STARTTLS with
login, implicit TLS."""

from __future__ import annotations

import email
import ssl
import subprocess
from email import policy

import pytest
from twilio_seed import Inbox, free_port

from config.settings import SmtpSettings
from deliveries.message_sender import OutgoingMessage, SendError
from messaging.smtp_email import SmtpEmailSender, build_email

MESSAGE = OutgoingMessage(
    channel="email",
    to="anna@example.nl",
    subject="Burgernet: kijk uit naar een man",
    text="Wilt u uitkijken naar een man met een rode jas?",
    delivery_id=5,
    html="<p>Wilt u uitkijken naar een man met een <strong>rode jas</strong>?</p>",
)


def received(inbox: Inbox, index: int = -1):
    return email.message_from_bytes(inbox.envelopes[index].content, policy=policy.default)


def test_plain_text_and_html_are_delivered(settings, smtp_server):
    settings.smtp = SmtpSettings(
        host="127.0.0.1", port=smtp_server.port, sender="Burgernet <noreply@burgernet.example.nl>"
    )
    result = SmtpEmailSender(settings).send(MESSAGE)
    assert result.provider == "smtp" and result.provider_id.endswith("@burgernet.example.nl>")
    envelope = smtp_server.envelopes[-1]
    assert envelope.mail_from == "noreply@burgernet.example.nl"
    assert envelope.rcpt_tos == ["anna@example.nl"]
    mail = received(smtp_server)
    assert mail["Subject"] == MESSAGE.subject and mail["Message-ID"] == result.provider_id
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content().strip() == MESSAGE.text
    assert "<strong>rode jas</strong>" in mail.get_body(("html",)).get_content()


def test_plain_text_only(settings, smtp_server):
    settings.smtp = SmtpSettings(host="127.0.0.1", port=smtp_server.port)
    SmtpEmailSender(settings).send(
        OutgoingMessage(channel="email", to="b@example.nl", subject="Afloop", text="Gevonden. Dank u wel.")
    )
    mail = received(smtp_server)
    assert mail.get_content_type() == "text/plain"
    assert "Gevonden" in mail.get_content()


def test_a_refused_mailbox_is_a_permanent_error(settings, smtp_server):
    settings.smtp = SmtpSettings(host="127.0.0.1", port=smtp_server.port)
    smtp_server.refuse.add("anna@example.nl")
    with pytest.raises(SendError) as err:
        SmtpEmailSender(settings).send(MESSAGE)
    assert err.value.permanent
    assert smtp_server.envelopes == []


def test_an_unreachable_server_is_a_temporary_error(settings):
    settings.smtp = SmtpSettings(host="127.0.0.1", port=free_port())
    with pytest.raises(SendError) as err:
        SmtpEmailSender(settings).send(MESSAGE)
    assert not err.value.permanent


@pytest.mark.parametrize("bad", ["geen-adres", "a@b.nl\r\nBcc: x@y.nl", "a@b.nl, c@d.nl"])
def test_bad_addresses_are_refused_before_sending(bad):
    with pytest.raises(SendError) as err:
        build_email(OutgoingMessage(channel="email", to=bad, text="x", subject="y"), "a@b.nl")
    assert err.value.permanent


def test_an_email_needs_a_subject():
    with pytest.raises(SendError, match="subject"):
        build_email(OutgoingMessage(channel="email", to="a@b.nl", text="x"), "a@b.nl")


# --- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class Credentials:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.seen.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"burgernet" and auth_data.password == b"geheim"
        return AuthResult(success=ok)


def test_starttls_with_login(settings, certificate):
    from aiosmtpd.controller import Controller

    inbox, credentials = Inbox(), Credentials()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=credentials,
        auth_require_tls=True,
    )
    controller.start()
    try:
        settings.smtp = SmtpSettings(
            host="127.0.0.1", port=controller.port, starttls=True, username="burgernet", password="geheim"
        )
        SmtpEmailSender(settings, ssl_context=_client_context(certificate)).send(MESSAGE)
        assert len(inbox.envelopes) == 1
        assert credentials.seen and credentials.seen[0][1:] == (b"burgernet", b"geheim")

        # Without STARTTLS the server refuses to take mail at all.
        settings.smtp = SmtpSettings(host="127.0.0.1", port=controller.port)
        with pytest.raises(SendError):
            SmtpEmailSender(settings).send(MESSAGE)
        assert len(inbox.envelopes) == 1
    finally:
        controller.stop()


def test_an_untrusted_certificate_is_refused(settings, certificate):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_context(certificate),
        require_starttls=True,
    )
    controller.start()
    try:
        settings.smtp = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=True)
        with pytest.raises(SendError) as err:
            SmtpEmailSender(settings).send(MESSAGE)  # system trust store: self-signed refused
        assert not err.value.permanent and inbox.envelopes == []
    finally:
        controller.stop()


def test_implicit_tls(settings, certificate):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), ssl_context=_server_context(certificate)
    )
    controller.start()
    try:
        settings.smtp = SmtpSettings(host="127.0.0.1", port=controller.port, use_ssl=True)
        SmtpEmailSender(settings, ssl_context=_client_context(certificate)).send(MESSAGE)
        assert len(inbox.envelopes) == 1
    finally:
        controller.stop()
