"""Fixtures for the Twilio, SMS and email tests: the fake Twilio server, the platform served
over real HTTP (Twilio calls its webhooks back), a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from twilio_seed import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, Inbox, free_port
from werkzeug.serving import make_server

from config.settings import TwilioSettings
from tests.support.fake_twilio import FakeTwilio


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    settings.phone_backend = "twilio"
    settings.twilio = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_base_url=fake_twilio.base_url,
        from_number=OUR_NUMBER,
        messaging_from=OUR_NUMBER,
        public_base_url="http://127.0.0.1:0",  # set to the live server below
        validate_signatures=True,
        request_timeout_s=20,
    )
    return settings


@dataclass
class LiveApp:
    app: object
    base_url: str
    errors: list = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def live_app(twilio_settings, clock):
    """The platform over real HTTP on a free port; Twilio's public URL points at it."""
    from app import create_app

    app = create_app(twilio_settings)
    app.extensions["burgernet.clock"] = clock
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    twilio_settings.twilio.public_base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveApp(app, base)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    app.extensions["burgernet.db"].dispose()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()
