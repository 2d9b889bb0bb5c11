"""What every Twilio adapter shares (calls in dialer.backends.twilio, SMS in twilio_sms):
the REST client on our configured API base, our webhook URLs, E.164 numbers, error codes."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode, urlparse

import phonenumbers
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import remove_port
from twilio.rest import Client

from config.logging import mask_phone
from config.settings import Settings
from deliveries.call_backend import OriginateError

PROVIDER = "twilio"
TWILIO_API = "https://api.twilio.com"

# Twilio error codes that mean "this number can never be called": never retry them.
PERMANENT_ERROR_CODES = {21211, 21214, 21215, 21216, 21217, 21401, 21407, 21610, 13224, 13227}


class WebhookPaths:
    """The paths of our Twilio webhooks; web/twilio_hooks.py serves exactly these."""

    PREFIX = "/twilio"
    VOICE = PREFIX + "/voice/<flow>"  # TwiML of one step of a call flow
    CALL_STATUS = PREFIX + "/call-status"
    AMD = PREFIX + "/amd"
    RECORDING = PREFIX + "/recording"
    MESSAGE_STATUS = PREFIX + "/message-status"
    INBOUND_SMS = PREFIX + "/sms"
    INBOUND_CALL = PREFIX + "/voice-inbound"


def webhook_url(settings: Settings, path: str, /, **query: object) -> str:
    base = settings.twilio.public_base_url.rstrip("/")
    query = {k: v for k, v in query.items() if v is not None}
    return base + path + ("?" + urlencode(query) if query else "")


def voice_url(settings: Settings, flow_name: str, /, **query: object) -> str:
    return webhook_url(settings, WebhookPaths.VOICE.replace("<flow>", flow_name), **query)


def signed_content(url: str, params: Iterable[tuple[str, str]]) -> str:
    """What X-Twilio-Signature covers, as Twilio's algorithm (RequestValidator) sees it: the URL
    (without a port, which the validator accepts either way) followed by every parameter name
    and value, names sorted, each name's values sorted and de-duplicated, all concatenated.

    Two requests with the same signed content carry the same signature, however their bodies
    are encoded (`&=` appended, a parameter repeated, `ApiVersio=n2010-04-01` for
    `ApiVersion=2010-04-01`): this, not the raw body, identifies one signed event."""

    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    content = remove_port(urlparse(url))
    for name in sorted(values):
        for value in sorted(values[name]):
            content += name + value
    return content


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending requests for api.twilio.com to another base URL."""

    def __init__(self, api_base_url: str, timeout: float = 10.0):
        super().__init__(timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.api_base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def rest_client(settings: Settings) -> Client:
    cfg = settings.twilio
    if not cfg.account_sid or not cfg.auth_token:
        raise OriginateError("Twilio is not configured: account_sid and auth_token are required")
    return Client(
        cfg.account_sid,
        cfg.auth_token,
        http_client=RebasedHttpClient(cfg.api_base_url, cfg.request_timeout_s),
    )


def to_e164(number: str, region: str) -> str:
    """'0343529850' -> '+31343529850'; raises ValueError for something that is no number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {mask_phone(number)}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number: {mask_phone(number)}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
