"""Twilio's webhooks: call statuses, AMD, the call flows in TwiML, recordings, SMS.

Every request must carry a valid `X-Twilio-Signature`, computed by Twilio over the public URL
(settings.twilio.public_base_url + path + query; behind a proxy that is the URL Twilio used,
not the one this process sees) and the POST parameters, checked with the real
`RequestValidator`. A missing or wrong signature, or a signed request seen before (a replay),
is answered 403 and logged. Checking can be switched off only in a testing app
(`TESTING` and `settings.twilio.validate_signatures = False`).

Paths (dialer/backends/twilio.py `WebhookPaths`):
  /twilio/call-status?delivery=N     initiated / ringing / answered / completed / busy / ...
  /twilio/amd?delivery=N             the asynchronous answering-machine verdict
  /twilio/voice/<flow>               one step of a call flow (ivr/twiml.py); an inbound call
                                     to the call-back number starts at /twilio/voice/callback
  /twilio/callback-status            the call-back number's calls ending (a caller who hung up
                                     during a prompt: their row ends at once, missed)
  /twilio/recording                  a recording is ready: fetch it with authentication
  /twilio/message-status?delivery=N  SMS delivery reports
  /twilio/sms                        text messages to our number (STOP, sign-up keyword)
  /twilio/audio/<token>.wav?for=&exp=&sig=  (the token is the cache key, sealed)
                                     rendered prompts for <Play> (twilio.play_rendered_audio),
                                     by a short-lived link signed for one delivery or call
                                     (web.audio_links); not served on other backends

Setting up a Twilio number: Voice "A call comes in" -> POST
{public_base_url}/twilio/voice/callback (the call-back line) and "Call status changes" -> POST
{public_base_url}/twilio/callback-status; Messaging "A message comes in" -> POST
{public_base_url}/twilio/sms. Outgoing calls and messages name their own callbacks.
Settings: BURGERNET_TWILIO__ACCOUNT_SID, __AUTH_TOKEN, __FROM_NUMBER (caller id, E.164 or
national), __MESSAGING_FROM (number or Messaging Service SID), __PUBLIC_BASE_URL, __CPS.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from functools import wraps

from flask import Blueprint, Response, abort, current_app, request, send_file
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from callback_line.queue import close_hung_up, note_answered
from callback_line.recordings import file_recording
from config.clock import Clock, SystemClock
from config.logging import log_event, mask_phone
from db.models import ControlRoom, Delivery, DeliveryKind, Sighting, WebhookReceipt
from deliveries.call_backend import CallEvent, CallEventType
from deliveries.events import UnknownDelivery, apply_call_event
from deliveries.message_status import UnknownMessageStatus, apply_message_status
from dialer.backends.twilio import (
    PROVIDER,
    TwilioCallBackend,
    WebhookPaths,
    call_event_from_amd,
    call_event_from_status,
    fetch_recording,
    is_recording_sid,
    voice_url,
    webhook_url,
)
from ivr.flow import CallEnv, Engine, FlowError, InputKind, QueueOutcome, Turn
from ivr.flows import UnknownFlow, flow_named
from ivr.twiml import (
    EV_LEAVE,
    EV_QUEUE,
    EV_RECORD,
    EV_WAIT,
    TwimlRenderer,
    dequeue,
    input_from_request,
    state_from_request,
)
from messaging.inbound_sms import handle_inbound_sms
from messaging.twilio_account import signed_content
from prompts.audio import find_cached, render
from prompts.errors import PromptError
from prompts.ivr_prompts import IVR_PROMPTS, ivr_prompt_audio
from prompts.tts import twilio_say_attributes
from web import process_stats
from web.audio_links import TWILIO_AUDIO_TTL_S, audio_key, sign_audio
from web.csrf import exempt_blueprint
from web.runtime import current_db, current_settings
from web.validation import parse_id

log = logging.getLogger(__name__)

bp = Blueprint("twilio_hooks", __name__, url_prefix=WebhookPaths.PREFIX)
exempt_blueprint(bp)  # no CSRF token: Twilio's signature authenticates every request

# The purpose of our signed <Play> links (web.audio_links): not valid in the console.
AUDIO_PURPOSE = "twilio"

# Expired receipts are deleted when a request's hash starts with this (about 1 in 256).
_PURGE_PREFIX = "00"
# Built once (the statement and its compiled form are reused); parameters come per request.
_RECEIPT_INSERT = {
    dialect: insert(WebhookReceipt)
    .on_conflict_do_nothing(index_elements=["request_hash"])
    .returning(WebhookReceipt.id)
    for dialect, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


def _clock() -> Clock:
    return current_app.extensions.get("burgernet.clock") or SystemClock()


def _twiml(body: str | VoiceResponse | MessagingResponse = "") -> Response:
    return Response(str(body) if body != "" else str(VoiceResponse()), mimetype="text/xml")


# --- signatures -----------------------------------------------------------------------------


def public_url() -> str:
    """The URL Twilio requested, as Twilio saw it (signatures are computed over it)."""
    settings = current_settings()
    query = request.query_string.decode()
    base = settings.twilio.public_base_url.rstrip("/")
    if not base:  # no public base configured: trust what ProxyFix made of the request
        return request.url
    return base + request.path + ("?" + query if query else "")


def _validation_enabled() -> bool:
    settings = current_settings()
    if settings.twilio.validate_signatures:
        return True
    if current_app.testing:
        return False
    log_event(
        log,
        "twilio.webhook.validation_forced",
        logging.WARNING,
        reason="validate_signatures is off outside tests",
    )
    return True


def _refuse(event: str, **fields) -> None:
    log_event(log, event, logging.WARNING, path=request.path, ip=request.remote_addr or "", **fields)
    process_stats.count("webhook_refusals")
    process_stats.count(f"webhook_refusals.{event.rsplit('.', 1)[-1]}")
    abort(403)


def receipt_digest(url: str, params) -> str:
    """The receipt key of a signed request: a digest of what its signature covers
    (messaging.twilio_account.signed_content), so that a re-encoding of the same signed event
    has the same key and counts as a replay."""
    return hashlib.sha256(signed_content(url, params).encode()).hexdigest()


def _note_receipt(url: str) -> str | None:
    """Remember this signed request by a digest; None when it was seen before (a replay)."""
    settings = current_settings()
    digest = receipt_digest(url, request.form.items(multi=True))
    now = _clock().now()
    db = current_db()
    # One INSERT ... ON CONFLICT DO NOTHING on a plain connection (no ORM unit of work, no
    # exception for a replay): a concurrent copy of the same request waits for the first one's
    # transaction and then inserts nothing. This runs for every webhook, so it is kept lean.
    values = {"provider": PROVIDER, "request_hash": digest, "path": request.path[:120], "received_at": now}
    statement = _RECEIPT_INSERT.get(db.engine.dialect.name)
    if statement is None:  # another database: the ORM and its IntegrityError
        try:
            with db.transaction() as session:
                session.add(WebhookReceipt(**values))
        except IntegrityError:
            return None
    else:
        with db.engine.begin() as connection:
            if connection.execute(statement, values).first() is None:  # nothing inserted: seen before
                return None
    if digest.startswith(_PURGE_PREFIX):
        with db.transaction() as session:
            purge_receipts(session, now, settings.twilio.replay_window_s)
    return digest


def _forget_receipt(digest: str) -> None:
    """The request was not handled: Twilio's retry of it must not count as a replay."""
    with current_db().transaction() as session:
        session.execute(delete(WebhookReceipt).where(WebhookReceipt.request_hash == digest))


def purge_receipts(session, now, window_s: int) -> int:
    """Forget signed requests older than the replay window; returns how many."""
    cutoff = now - timedelta(seconds=window_s)
    result = session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < cutoff))
    return result.rowcount or 0


def signed(view):
    """Refuse (403, logged) a request that is unsigned, forged or replayed."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not _validation_enabled():
            return view(*args, **kwargs)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            _refuse("twilio.webhook.unsigned")
        url = public_url()
        validator = RequestValidator(current_settings().twilio.auth_token)
        if not validator.validate(url, request.form, signature):
            _refuse("twilio.webhook.forged", url=url)
        digest = _note_receipt(url)
        if digest is None:
            _refuse(
                "twilio.webhook.replayed",
                call_sid=request.form.get("CallSid", ""),
                message_sid=request.form.get("MessageSid", ""),
            )
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except HTTPException as exc:
            if (exc.code or 500) >= 500:
                _forget_receipt(digest)
            raise
        except Exception:
            _forget_receipt(digest)
            raise
        if response.status_code >= 500:
            _forget_receipt(digest)
        return response

    return checked


def _delivery_id() -> int:
    delivery_id = parse_id(request.args.get("delivery", ""))
    if delivery_id is None:
        abort(400)
    return delivery_id


# --- calls ----------------------------------------------------------------------------------


def _apply(event) -> None:
    """Apply a call event. Its delivery is read once, locked (deliveries.events.load_for_update),
    so two callbacks of one call at the same moment each see the other's state; a callback of an
    earlier call of the delivery (a retry has a new CallSid) is ignored there ("other_call")."""
    try:
        with current_db().transaction() as session:
            apply_call_event(session, event, _clock(), current_settings())
    except UnknownDelivery:
        log_event(log, "twilio.webhook.unknown_delivery", logging.WARNING, delivery_id=event.delivery_id)
        abort(404)


@bp.post("/call-status")
@signed
def call_status():
    delivery_id = _delivery_id()
    try:
        event = call_event_from_status(delivery_id, request.form, _clock().now())
    except ValueError as exc:
        log_event(log, "twilio.call_status.unknown", logging.WARNING, error=str(exc))
        abort(400)
    if event is not None:
        _apply(event)
    return _twiml()


# Twilio's final statuses of a call (its status callback's CallStatus).
_CALL_OVER = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@bp.post("/callback-status")
@signed
def callback_line_status():
    """The call-back number's status callback (configured on the number; for an incoming call
    Twilio posts when it ends). A caller who hung up during a prompt or in the queue has no
    flow step left to say so: their row ends now, as a missed caller on the call-back list,
    not 15 minutes later."""
    if request.form.get("CallStatus", "") not in _CALL_OVER:
        return _twiml()
    call_sid = request.form.get("CallSid", "")
    with current_db().session() as session:
        close_hung_up(session, PROVIDER, call_sid, _clock().now())
    return _twiml()


# Which voice webhook restarts a delivery's message for an answering machine.
_MESSAGE_FLOW = {DeliveryKind.ALERT: "alert", DeliveryKind.OUTCOME: "outcome", DeliveryKind.UPDATE: "outcome"}


@bp.post("/amd")
@signed
def amd():
    delivery_id = _delivery_id()
    event = call_event_from_amd(delivery_id, request.form, _clock().now())
    if event is None:
        return _twiml()
    _apply(event)  # committed before Twilio is asked for anything
    call_sid = request.form.get("CallSid", "")
    with current_db().session() as session:
        delivery = session.get(Delivery, delivery_id)
        flow_name = _MESSAGE_FLOW.get(delivery.kind) if delivery is not None else None
    if flow_name and request.form.get("CallStatus", "in-progress") == "in-progress":
        # The message started for a person; a machine gets it again, whole, after its beep.
        settings = current_settings()
        url = voice_url(settings, flow_name, delivery=delivery_id, answered_by=request.form.get("AnsweredBy"))
        TwilioCallBackend(settings).redirect(call_sid, url)
    return _twiml()


def _flow(name: str):
    """The flow Twilio may run by the name in the URL (ivr.flows, shared with FastAGI)."""
    try:
        return flow_named(name, webhook=True)
    except UnknownFlow:
        abort(404)


def say_attributes(settings) -> dict:
    """<Say> attributes: Dutch, with the configured voice (the prompts package decides)."""
    return twilio_say_attributes(settings)


def rendered_audio_url(settings, speech, subject: str) -> str | None:
    """A short-lived signed URL of the platform's rendering of `speech` for <Play>, bound to
    `subject` (web.audio_links): a fixed prompt by its key (an administrator's recording when
    there is one), anything else by its text. None when it cannot be rendered: the renderer
    then falls back to <Say>."""

    try:
        if speech.key and speech.key in IVR_PROMPTS:
            rendered = ivr_prompt_audio(speech.key, settings)
        else:
            rendered = render(speech.text, settings)
    except (PromptError, OSError) as exc:
        log_event(log, "twilio.audio.unrendered", logging.WARNING, key=speech.key or "", error=str(exc))
        return None
    link = sign_audio(
        current_app.config["SECRET_KEY"],
        AUDIO_PURPOSE,
        rendered.key,
        subject,
        _clock().now(),
        TWILIO_AUDIO_TTL_S,
    )
    return webhook_url(settings, f"{WebhookPaths.PREFIX}/audio/{link.token}.wav", **link.as_query())


def audio_subject(delivery_id, call_sid: str | None) -> str:
    """What a call's audio links are bound to: its delivery (alert, outcome), else the call."""
    if isinstance(delivery_id, int):
        return f"delivery:{delivery_id}"
    return f"call:{call_sid or ''}"


def renderer_for(settings, flow_name: str, audio_for: str):
    def url_for(params) -> str:
        return voice_url(settings, flow_name, **params)

    audio_url = None
    if settings.twilio.play_rendered_audio:

        def audio_url(speech):
            return rendered_audio_url(settings, speech, audio_for)

    return TwimlRenderer(
        url_for=url_for,
        recording_callback_url=webhook_url(settings, WebhookPaths.RECORDING),
        say_attributes=say_attributes(settings),
        audio_url=audio_url,
    )


@bp.get("/audio/<token>.wav")
def rendered_audio(token: str):
    """Rendered prompt audio for Twilio's <Play>: only by a valid, unexpired link signed for
    it (web.audio_links; the path carries the cache key sealed), and only when Twilio is the
    phone backend. Anything else is 404, the same answer as for audio never rendered."""

    settings = current_settings()
    if settings.phone_backend != "twilio":
        abort(404)
    args = request.args
    key = audio_key(
        current_app.config["SECRET_KEY"],
        AUDIO_PURPOSE,
        token,
        args.get("for", ""),
        args.get("exp", ""),
        args.get("sig", ""),
        _clock().now(),
    )
    if key is None:
        log_event(log, "twilio.audio.refused", logging.WARNING, ip=request.remote_addr or "")
        abort(404)
    rendered = find_cached(key, settings)
    if rendered is None or not rendered.web.is_file():
        abort(404)
    return send_file(rendered.web, mimetype="audio/wav", conditional=True, max_age=TWILIO_AUDIO_TTL_S)


def _fallback_twiml() -> VoiceResponse:
    settings = current_settings()
    response = VoiceResponse()
    response.say(
        "Excuses, er is een storing. Heeft u iets gezien, bel dan gratis "
        f"{settings.callback_number}. Bij spoed belt u 1 1 2.",
        **say_attributes(settings),
    )
    response.hangup()
    return response


def _log_digits(session, delivery_id, call_sid, digits: str, step_no: int) -> None:
    """A key pressed on an alert call, in the delivery's event log (as the Asterisk backend
    reports DTMF); the flow itself stores the menu choice."""

    if not isinstance(delivery_id, int):
        return
    try:
        apply_call_event(
            session,
            CallEvent(
                delivery_id=delivery_id,
                type=CallEventType.DTMF,
                provider=PROVIDER,
                provider_id=call_sid,
                at=_clock().now(),
                digits=digits,
                event_key=f"{PROVIDER}:{call_sid}:dtmf:{step_no}",
            ),
            _clock(),
            current_settings(),
        )
    except (LookupError, ValueError) as exc:  # the flow reports a bad delivery itself
        log_event(log, "twilio.dtmf.unlogged", logging.WARNING, delivery_id=delivery_id, error=str(exc))


@bp.post("/voice/<flow_name>")
@signed
def voice(flow_name: str):
    settings = current_settings()
    flow = _flow(flow_name)
    engine = Engine(flow)
    form = request.form
    query = request.args
    call_sid = form.get("CallSid")
    db = current_db()
    with db.session() as session:
        env = CallEnv(
            session=session,
            clock=_clock(),
            settings=settings,
            provider=PROVIDER,
            provider_call_id=call_sid,
            caller_number=form.get("From"),
            dialed_number=form.get("To"),
            answered_by=query.get("answered_by") or form.get("AnsweredBy"),
        )
        try:
            if "ev" in query:
                state, ev, step_no = state_from_request(query)
                if state.flow != flow.name:
                    abort(400)
                audio_for = audio_subject(state.ctx.get("delivery_id"), call_sid)
                renderer = renderer_for(settings, flow.name, audio_for)
                if ev in (EV_WAIT, EV_LEAVE):
                    # A caller in (or about to join) the call queue: the same step again.
                    here = Turn(engine.step_for(state, env), state)
                    if ev == EV_WAIT:
                        waited = _seconds(form.get("QueueTime")) or 0.0
                        twiml = renderer.render_queue_wait(here, step_no, waited)
                    else:
                        digits = (form.get("Digits") or "").strip()
                        twiml = renderer.render_leave(here, step_no, digits, waiting=query.get("w") == "1")
                    session.commit()
                    return Response(twiml, mimetype="text/xml")
                path = None
                if ev == EV_RECORD:
                    path = _store_recording(form.get("RecordingSid", ""))
                params = form
                if ev == EV_QUEUE and not form.get("QueueResult") and query.get("QueueResult"):
                    params = {**form.to_dict(), "QueueResult": query["QueueResult"]}
                happened = input_from_request(ev, params, path)
                if happened.queue_outcome is QueueOutcome.HANGUP:
                    engine.hangup(state, env, happened)  # the row says missed, with the wait
                    session.commit()
                    return _twiml()
                if flow.name in ("alert", "outcome") and happened.kind is InputKind.DIGITS:
                    _log_digits(session, state.ctx.get("delivery_id"), call_sid, happened.digits, step_no)
                turn = engine.resume(state, happened, env)
            else:
                step_no = 0
                ctx = {}
                if "delivery" in query:
                    ctx["delivery_id"] = _delivery_id()
                elif flow.name in ("alert", "outcome"):
                    abort(400)
                turn = engine.start(env, ctx)
            audio_for = audio_subject(turn.state.ctx.get("delivery_id"), call_sid)
            twiml = renderer_for(settings, flow.name, audio_for).render(turn, step_no)
            session.commit()
        except FlowError as exc:
            session.rollback()
            log_event(
                log,
                "twilio.voice.flow_error",
                logging.ERROR,
                flow=flow.name,
                call_sid=call_sid or "",
                error=str(exc),
            )
            return _twiml(_fallback_twiml())
        except HTTPException:
            raise
        except Exception:
            session.rollback()
            log.exception("twilio.voice.failed flow=%s call_sid=%s", flow.name, call_sid or "")
            return _twiml(_fallback_twiml())
    log_event(
        log,
        "twilio.voice.step",
        flow=flow.name,
        node=turn.step.node,
        step=type(turn.step).__name__,
        call_sid=call_sid or "",
    )
    return Response(twiml, mimetype="text/xml")


@bp.post("/dequeue/<int:room_id>")
@signed
def take_next_caller(room_id: int):
    """A centralist's phone (a Twilio number or SIP domain pointed here) takes the next caller
    waiting in the control room's call queue: `<Dial><Queue>`."""
    with current_db().session() as session:
        room = session.get(ControlRoom, room_id)
        if room is None or not room.callback_queue:
            abort(404)
        answered = webhook_url(current_settings(), f"{WebhookPaths.PREFIX}/queue-answered")
        return Response(dequeue(room.callback_queue, answered), mimetype="text/xml")


@bp.post("/queue-answered")
@signed
def queue_answered():
    """Twilio is about to connect a waiting caller (CallSid) to a centralist's call: the
    caller's row says connected from now on. Nothing is played to the caller."""
    form = request.form
    agent = form.get("DequeingCallSid") or "twilio"
    with current_db().session() as session:
        note_answered(session, PROVIDER, form.get("CallSid", ""), agent, _clock().now())
    return _twiml()


# --- recordings -------------------------------------------------------------------------------


def _store_recording(recording_sid: str) -> str | None:
    """Fetch a recording from Twilio (authenticated) into settings.recordings_dir; None when it
    is not available (yet): the recording status callback completes it later."""
    settings = current_settings()
    try:
        return str(fetch_recording(settings, recording_sid))
    except ValueError as exc:
        log_event(log, "twilio.recording.refused", logging.WARNING, error=str(exc))
        return None
    except OSError as exc:
        log_event(
            log, "twilio.recording.unavailable", logging.WARNING, recording_sid=recording_sid, error=str(exc)
        )
        return None


def _seconds(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


@bp.post("/recording")
@signed
def recording():
    """Twilio has the recording ready. Normally the <Record> action request already fetched
    it and the sighting holds it; when Twilio did not have it then, it is fetched now and
    filed with the sighting, like an Asterisk recording."""

    form = request.form
    call_sid = form.get("CallSid")
    recording_sid = form.get("RecordingSid", "")
    if form.get("RecordingStatus", "completed") != "completed":
        log_event(
            log, "twilio.recording.status", status=form.get("RecordingStatus"), recording_sid=recording_sid
        )
        return _twiml()
    if not is_recording_sid(recording_sid):
        # Nothing Twilio could ever deliver: a 4xx, so it is not retried (a 503 would be).
        log_event(log, "twilio.recording.refused", logging.WARNING, recording_sid=recording_sid[:40])
        return Response("no valid RecordingSid", status=400)
    settings = current_settings()
    with current_db().transaction() as session:
        sightings = session.scalars(
            select(Sighting).where(Sighting.provider == PROVIDER, Sighting.provider_call_id == call_sid)
        ).all()
        waiting = [s for s in sightings if s.recording_path is None]
        if sightings and not waiting:
            return _twiml()  # already filed with its sighting
        path = _store_recording(recording_sid)
        if path is None:
            return Response("recording not available", status=503)
        for sighting in waiting:  # assessed and flagged like an Asterisk recording
            reported_s = _seconds(form.get("RecordingDuration"))
            file_recording(sighting, path, reported_s, "", settings.recordings_dir, _clock().now())
    log_event(
        log,
        "twilio.recording.stored",
        call_sid=call_sid or "",
        recording_sid=recording_sid,
        completed_sightings=len(waiting),
    )
    return _twiml()


# --- text messages ----------------------------------------------------------------------------


@bp.post("/message-status")
@signed
def message_status():
    delivery_id = _delivery_id()
    form = request.form
    status = form.get("MessageStatus") or form.get("SmsStatus", "")
    with current_db().transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            abort(404)
        try:
            apply_message_status(
                session,
                delivery,
                status,
                _clock(),
                message_sid=form.get("MessageSid"),
                error_code=form.get("ErrorCode"),
            )
        except UnknownMessageStatus as exc:
            log_event(log, "twilio.sms.unknown_status", logging.WARNING, error=str(exc))
            abort(400)
    return _twiml()


@bp.post("/sms")
@signed
def inbound_sms():
    form = request.form
    sender = form.get("From", "")
    if not sender:
        abort(400)
    with current_db().transaction() as session:
        reply = handle_inbound_sms(
            session,
            sender,
            form.get("Body", ""),
            _clock(),
            current_settings(),
            current_app.config["SECRET_KEY"],
        )
    log_event(log, "twilio.sms.inbound", sender=mask_phone(sender), replied=reply is not None)
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), mimetype="text/xml")


__all__ = ["bp", "public_url", "signed", "webhook_url"]
