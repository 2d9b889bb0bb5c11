"""The Twilio adapter of the dialer's CallBackend port: calls over Twilio's REST API.

`originate` asks Twilio to place the call (`calls.create`) with three webhook URLs that carry
the delivery id: the TwiML of the call's flow, the status callback (initiated, ringing,
answered, completed) and, with answering-machine detection `DetectMessageEnd`, the
asynchronous AMD result. Twilio then calls those webhooks (web/twilio_hooks.py), which turn
them into `CallEvent`s with `call_event_from_status` / `call_event_from_amd` below and apply
them to the delivery rows. So events do not flow through this object: `start` only keeps the
sink for symmetry with the other adapters.

A circuit breaker guards the REST API: `breaker_threshold` consecutive server errors (5xx) or
connection failures open it for `breaker_cooldown_s`; meanwhile `unavailable_reason()` says
so and `originate` raises `BackendUnavailable` without asking Twilio (no attempt spent). After
the cool-down the next originate is a probe: a success closes the breaker, a failure opens it
again. A refusal about the call itself (4xx) says nothing about availability.

The real `twilio` client is used; `settings.twilio.api_base_url` replaces Twilio's API host
(tests point it at a local server that speaks the same contract).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import datetime
from pathlib import Path

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from config.logging import log_event, mask_phone
from config.settings import Settings
from deliveries.call_backend import (
    BackendUnavailable,
    CallEvent,
    CallEventType,
    CallRequest,
    EventSink,
    OriginateError,
)
from ivr.flows import WEBHOOK_FLOWS
from messaging.twilio_account import (  # noqa: F401 (re-exported for the web hooks and tests)
    PERMANENT_ERROR_CODES,
    PROVIDER,
    TWILIO_API,
    RebasedHttpClient,
    WebhookPaths,
    rest_client,
    to_e164,
    voice_url,
    webhook_url,
)

log = logging.getLogger(__name__)


def spoken_text_twiml(text: str, settings: Settings) -> str:
    response = VoiceResponse()
    attributes = {"language": settings.twilio.say_language, "voice": settings.twilio.say_voice}
    response.say(text, **attributes)
    response.pause(length=1)
    response.say(text, **attributes)
    response.hangup()
    return str(response)


_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


def is_recording_sid(value: str | None) -> bool:
    return bool(_RECORDING_SID.match(value or ""))


def recording_path(settings: Settings, recording_sid: str) -> Path:
    """Where a fetched recording waits until the call-back flow files it with its sighting
    (callback_line.recordings.store_recording moves it under settings.recordings_dir)."""
    if not is_recording_sid(recording_sid):
        raise ValueError(f"not a Twilio recording sid: {recording_sid[:40]!r}")
    return settings.instance_path / "incoming-recordings" / f"{recording_sid}.wav"


def fetch_recording(
    settings: Settings, recording_sid: str, *, attempts: int = 3, wait_s: float = 0.5
) -> Path:
    """Download a recording as WAV from Twilio's API with the account's credentials (once: a
    file already fetched is not fetched again). The URL is
    built from the sid, never taken from the request, so a webhook cannot make us fetch
    anything else. Raises OSError when Twilio does not have it (yet)."""
    target = recording_path(settings, recording_sid)
    if target.is_file() and target.stat().st_size > 0:
        return target
    cfg = settings.twilio
    url = (
        f"{cfg.api_base_url.rstrip('/')}/2010-04-01/Accounts/{cfg.account_sid}/Recordings/{recording_sid}.wav"
    )
    for attempt in range(attempts):
        response = requests.get(url, auth=(cfg.account_sid, cfg.auth_token), timeout=cfg.request_timeout_s)
        if response.status_code == 200 and response.content:
            break
        if response.status_code != 404 or attempt == attempts - 1:
            raise OSError(f"recording {recording_sid}: HTTP {response.status_code}")
        time.sleep(wait_s)  # Twilio makes a recording available shortly after the call
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    with open(partial, "wb") as out:
        out.write(response.content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    return target


class TwilioOriginateError(OriginateError):
    """Twilio refused the call. `permanent` means the number itself is at fault: no retry."""

    def __init__(self, message: str, *, code: int | None, permanent: bool):
        super().__init__(message)
        self.code = code
        self.permanent = permanent


class TwilioUnavailable(TwilioOriginateError, BackendUnavailable):
    """Twilio's API did not take the call (a server error, no connection, the breaker open)."""


UNREACHABLE = "Twilio niet bereikbaar"


class TwilioCallBackend:
    name = PROVIDER

    def __init__(
        self,
        settings: Settings,
        client: Client | None = None,
        *,
        breaker_threshold: int = 3,
        breaker_cooldown_s: float = 5.0,
        monotonic=time.monotonic,
    ):
        self.settings = settings
        self._client = client
        self._sink: EventSink | None = None
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown_s = breaker_cooldown_s
        self._monotonic = monotonic
        self._breaker_lock = threading.Lock()
        self._failures = 0  # consecutive server or connection errors
        self._open_until: float | None = None
        self._last_error = ""

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = rest_client(self.settings)
        return self._client

    @property
    def max_cps(self) -> float:
        """The account's calls-per-second limit; the dialer's pacing must stay under it."""
        return self.settings.twilio.cps

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self.client  # noqa: B018 - fail early when Twilio is not configured

    def caller_id(self, request: CallRequest) -> str:
        number = self.settings.twilio.from_number or request.caller_id or self.settings.caller_id
        return to_e164(number, self.settings.default_region)

    def create_params(self, request: CallRequest) -> dict:
        """The `calls.create` arguments for one delivery (pure; tested on its own).

        The alert flow runs through our voice webhook. A call that only speaks a text given
        in `variables["text"]` (a verification code, an outcome message) carries it as inline
        TwiML instead, so the text never appears in a URL."""
        settings = self.settings
        if request.flow in WEBHOOK_FLOWS or "text" not in request.variables:
            how = dict(url=voice_url(settings, request.flow, delivery=request.delivery_id), method="POST")
        else:
            how = dict(twiml=spoken_text_twiml(request.variables["text"], settings))
        params = dict(
            to=request.number,
            from_=self.caller_id(request),
            **how,
            status_callback=webhook_url(settings, WebhookPaths.CALL_STATUS, delivery=request.delivery_id),
            status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            timeout=request.timeout_s,
        )
        if settings.twilio.machine_detection:
            params["machine_detection"] = "DetectMessageEnd"
            if settings.twilio.async_amd:
                params["async_amd"] = "true"
                params["async_amd_status_callback"] = webhook_url(
                    settings, WebhookPaths.AMD, delivery=request.delivery_id
                )
                params["async_amd_status_callback_method"] = "POST"
        return params

    def unavailable_reason(self) -> str | None:
        with self._breaker_lock:
            if self._open_until is not None and self._monotonic() < self._open_until:
                return f"{UNREACHABLE} ({self._last_error})" if self._last_error else UNREACHABLE
        return None

    def _link_failed(self, error: str) -> None:
        with self._breaker_lock:
            self._failures += 1
            self._last_error = error
            if self._failures >= self.breaker_threshold or self._open_until is not None:
                # A failed probe after the cool-down opens the breaker again at once.
                self._open_until = self._monotonic() + self.breaker_cooldown_s
                opened = True
            else:
                opened = False
        if opened:
            log_event(log, "twilio.breaker_open", logging.WARNING, error=error, failures=self._failures)

    def _link_works(self) -> None:
        with self._breaker_lock:
            was_open = self._open_until is not None
            self._failures = 0
            self._open_until = None
            self._last_error = ""
        if was_open:
            log_event(log, "twilio.breaker_closed")

    def originate(self, request: CallRequest) -> str | None:
        try:
            params = self.create_params(request)
        except ValueError as exc:
            raise TwilioOriginateError(str(exc), code=None, permanent=True) from exc
        reason = self.unavailable_reason()
        if reason is not None:
            raise TwilioUnavailable(reason, code=None, permanent=False)
        try:
            call = self.client.calls.create(**params)
        except TwilioRestException as exc:
            if exc.status >= 500:  # Twilio's side: nothing was placed
                self._link_failed(f"HTTP {exc.status}")
                raise TwilioUnavailable(
                    f"{UNREACHABLE}: HTTP {exc.status} ({exc.code})", code=exc.code, permanent=False
                ) from exc
            self._link_works()
            permanent = exc.code in PERMANENT_ERROR_CODES
            log_event(
                log,
                "twilio.originate.refused",
                logging.WARNING,
                delivery_id=request.delivery_id,
                to=mask_phone(request.number),
                code=exc.code,
                status=exc.status,
                permanent=permanent,
            )
            raise TwilioOriginateError(
                f"Twilio refused the call ({exc.code}): {exc.msg}", code=exc.code, permanent=permanent
            ) from exc
        except requests.ConnectionError as exc:  # refused, reset, connect timeout: nothing sent
            self._link_failed(type(exc).__name__)
            raise TwilioUnavailable(f"{UNREACHABLE}: {exc}", code=None, permanent=False) from exc
        except OSError as exc:  # e.g. a read timeout: the link, not the number
            self._link_failed(type(exc).__name__)
            raise TwilioOriginateError(f"Twilio unreachable: {exc}", code=None, permanent=False) from exc
        self._link_works()
        log_event(
            log,
            "twilio.originate",
            delivery_id=request.delivery_id,
            to=mask_phone(request.number),
            call_sid=call.sid,
        )
        return call.sid

    def redirect(self, call_sid: str, url: str) -> None:
        """Make a call in progress fetch new TwiML (used when AMD finds a machine)."""
        self.client.calls(call_sid).update(url=url, method="POST")

    def hangup(self, delivery_id: int, provider_id: str | None) -> None:
        if not provider_id:
            return
        try:
            self.client.calls(provider_id).update(status="completed")
        except TwilioRestException as exc:
            # 20404: the call is already gone; anything else is worth a warning, not a crash.
            if exc.status != 404:
                log_event(
                    log,
                    "twilio.hangup.failed",
                    logging.WARNING,
                    delivery_id=delivery_id,
                    call_sid=provider_id,
                    code=exc.code,
                )

    def stop(self) -> None:
        self._sink = None


# --- Twilio callbacks -> the dialer's normalized events --------------------------------------

_STATUS_EVENTS = {
    "queued": None,
    "initiated": CallEventType.DIALING,
    "ringing": CallEventType.RINGING,
    "in-progress": CallEventType.ANSWERED,
    "answered": CallEventType.ANSWERED,
    "completed": CallEventType.COMPLETED,
    "busy": CallEventType.BUSY,
    "no-answer": CallEventType.NO_ANSWER,
    "failed": CallEventType.FAILED,
    "canceled": CallEventType.FAILED,
}

# Twilio gives no Q.850 cause; its final statuses name one, in Asterisk's words, so the rows of
# both providers read alike (a failed call keeps Twilio's SIP code: "sip:404").
STATUS_CAUSES = {"completed": "NORMAL_CLEARING", "busy": "USER_BUSY", "no-answer": "NO_ANSWER"}

MACHINE_ANSWERS = {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}


class UnknownCallStatus(ValueError):
    def __init__(self, status: str):
        super().__init__(f"unknown Twilio CallStatus {status!r}")
        self.status = status


def call_event_from_status(delivery_id: int, form: dict, at: datetime) -> CallEvent | None:
    """One Twilio status callback as the dialer's event; None for statuses without meaning
    to the dialer (queued). The event key makes a repeated callback count once."""
    status = form.get("CallStatus", "")
    if status not in _STATUS_EVENTS:
        raise UnknownCallStatus(status)
    event_type = _STATUS_EVENTS[status]
    if event_type is None:
        return None
    call_sid = form.get("CallSid")
    cause = STATUS_CAUSES.get(status)
    if event_type is CallEventType.FAILED:
        cause = (
            "canceled"
            if status == "canceled"
            else (f"sip:{form['SipResponseCode']}" if form.get("SipResponseCode") else "failed")
        )
    detail = {k: form[k] for k in ("CallDuration", "SipResponseCode", "AnsweredBy") if form.get(k)}
    return CallEvent(
        delivery_id=delivery_id,
        type=event_type,
        provider=PROVIDER,
        provider_id=call_sid,
        at=at,
        hangup_cause=cause,
        event_key=f"{PROVIDER}:{call_sid}:{status}",
        detail=detail,
    )


def call_event_from_amd(delivery_id: int, form: dict, at: datetime) -> CallEvent | None:
    """The asynchronous AMD result: a machine is an event for the dialer; a human changes
    nothing (the call is already answered); 'unknown' is left as it is."""
    answered_by = form.get("AnsweredBy", "unknown")
    call_sid = form.get("CallSid")
    if answered_by not in MACHINE_ANSWERS:
        return None
    return CallEvent(
        delivery_id=delivery_id,
        type=CallEventType.MACHINE,
        provider=PROVIDER,
        provider_id=call_sid,
        at=at,
        event_key=f"{PROVIDER}:{call_sid}:amd",
        detail={"AnsweredBy": answered_by},
    )
