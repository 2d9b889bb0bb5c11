"""A local stand-in for Twilio: the REST subset the platform uses, and the phone side of calls.

REST (real paths, form fields, JSON shapes and error codes, HTTP basic auth):
  POST /2010-04-01/Accounts/{AccountSid}/Calls.json          create a call (201, call resource)
  POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json update (Status=completed hangs up)
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json       create a message (201)
  GET  /2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.wav fetch recording audio
Errors are JSON `{"code", "message", "more_info", "status"}`: 20003 (401 authenticate),
21211 (invalid To), 21212 (invalid From), 21205 (Url missing), 21602 (Body missing),
20404 (not found).

The phone side is driven by the test through Python methods (`ring`, `answer`, `press`,
`speak`, `dial_result`, `hangup`, `incoming_call`, `incoming_sms`, `message_status`). Like
Twilio, the fake then calls the platform's webhooks over HTTP, signed with the real
`RequestValidator` algorithm, and interprets the TwiML it gets back: `<Say>`/`<Play>` are
"heard", `<Gather>` waits for digits (no digits: falls through to the next verb), `<Record>`
waits for speech, `<Dial>` waits for the callee's result, `<Redirect>` and `<Hangup>` do what
Twilio does.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import threading
import uuid
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urljoin

import phonenumbers
import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API = "/2010-04-01/Accounts/"


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _valid_e164(number: str) -> bool:
    if not number.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


DIAL_REFUSED_NUMBER = 13223  # Dial: Invalid phone number format
DIAL_REFUSED_SIP = 13224  # Dial: Invalid SIP URI (Twilio wants sip:user@host)


def dial_refusal(verb: ET.Element) -> tuple[int, str] | None:
    """Why Twilio would refuse this <Dial>, or None: a <Number> must be an E.164 number and a
    <Sip> a sip: URI; a PBX dial string such as PJSIP/centralist is neither."""
    nouns = list(verb)
    if not nouns:  # a number as the Dial's own text
        text = (verb.text or "").strip()
        return None if _valid_e164(text) else (DIAL_REFUSED_NUMBER, text)
    for noun in nouns:
        text = (noun.text or "").strip()
        if noun.tag == "Number" and not _valid_e164(text):
            return (DIAL_REFUSED_NUMBER, text)
        if noun.tag == "Sip" and not (text.startswith(("sip:", "sips:")) and "@" in text):
            return (DIAL_REFUSED_SIP, text)
        if noun.tag not in ("Number", "Sip", "Client", "Conference", "Queue"):
            return (DIAL_REFUSED_NUMBER, noun.tag)
    return None


def silence_wav(seconds: float = 1.0, tone: bool = True) -> bytes:
    """A small 8 kHz mono WAV (a 440 Hz tone unless told otherwise) standing in for speech."""
    import math

    rate = 8000
    frames = bytearray()
    for i in range(int(rate * seconds)):
        value = int(8000 * math.sin(2 * math.pi * 440 * i / rate)) if tone else 0
        frames += value.to_bytes(2, "little", signed=True)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


@dataclass
class Pending:
    """What the call waits for: the verb element and the URL it came from."""

    verb: ET.Element
    base_url: str
    rest: list[ET.Element]


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    direction: str
    url: str | None
    method: str = "POST"
    status_callback: str | None = None
    status_events: list[str] = field(default_factory=list)
    machine_detection: str | None = None
    async_amd: bool = False
    amd_callback: str | None = None
    timeout: int = 60
    status: str = "queued"
    heard: list[str] = field(default_factory=list)  # what the callee heard, in order
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, url, http status)
    documents: list[tuple[str, str]] = field(default_factory=list)  # (url, TwiML) fetched
    pending: Pending | None = None
    dialed: list[str] = field(default_factory=list)
    # Twilio's error codes for verbs it refused, as its debugger would list them.
    errors: list[tuple[int, str]] = field(default_factory=list)
    sequence: itertools.count = field(default_factory=itertools.count)
    ended: bool = False
    queued_in: str | None = None  # the queue an <Enqueue> put the call in
    wait_documents: list[tuple[str, str]] = field(default_factory=list)  # the wait URL's TwiML
    wait_gather: Pending | None = None  # a <Gather> the wait URL is running


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    status: str = "queued"
    direction: str = "outbound-api"


class WebhookError(AssertionError):
    """The platform answered a webhook with an error status."""


class FakeTwilio:
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-token"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.calls: dict[str, FakeCall] = {}
        self.messages: dict[str, FakeMessage] = {}
        self.recordings: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict]] = []  # REST requests received
        self.webhooks: list[tuple[str, dict, int]] = []  # webhooks sent: url, params, status
        self.lock = threading.RLock()
        self._server = None
        self._thread = None
        self.base_url = ""
        self.fail_next_create: dict | None = None

    # --- server lifecycle -----------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    # --- REST -----------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    @staticmethod
    def _error(status: int, code: int, message: str) -> Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _route(self, request: Request) -> Response:
        path = request.path
        with self.lock:
            self.requests.append((request.method, path, request.form.to_dict(flat=False)))
        if not path.startswith(API):
            return self._error(404, 20404, "The requested resource was not found")
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        account, _, rest = path[len(API) :].partition("/")
        if account != self.account_sid:
            return self._error(404, 20404, f"The requested resource {path} was not found")
        if rest == "Calls.json" and request.method == "POST":
            return self._create_call(request)
        if rest.startswith("Calls/") and rest.endswith(".json") and request.method == "POST":
            return self._update_call(request, rest[len("Calls/") : -len(".json")])
        if rest == "Messages.json" and request.method == "POST":
            return self._create_message(request)
        if rest.startswith("Recordings/") and request.method == "GET":
            sid = rest[len("Recordings/") :].removesuffix(".wav")
            audio = self.recordings.get(sid)
            if audio is None:
                return self._error(404, 20404, f"The requested resource {path} was not found")
            return Response(audio, mimetype="audio/x-wav")
        return self._error(404, 20404, f"The requested resource {path} was not found")

    def _call_json(self, call: FakeCall) -> dict:
        now = formatdate(usegmt=True)
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "status": call.status,
            "direction": call.direction,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "answered_by": None,
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{API}{self.account_sid}/Calls/{call.sid}.json",
            "subresource_uris": {
                "recordings": f"{API}{self.account_sid}/Calls/{call.sid}/Recordings.json",
            },
        }

    def _create_call(self, request: Request) -> Response:
        form = request.form
        if self.fail_next_create:
            failure, self.fail_next_create = self.fail_next_create, None
            return self._error(**failure)
        to, from_ = form.get("To", ""), form.get("From", "")
        if not _valid_e164(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            return self._error(400, 21213, "No 'From' number is specified")
        if not _valid_e164(from_):
            return self._error(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
            return self._error(400, 21205, "Url parameter is required.")
        call = FakeCall(
            sid=_sid("CA"),
            to=to,
            from_=from_,
            direction="outbound-api",
            url=form.get("Url"),
            method=form.get("Method", "POST"),
            status_callback=form.get("StatusCallback"),
            status_events=form.getlist("StatusCallbackEvent") or ["completed"],
            machine_detection=form.get("MachineDetection"),
            async_amd=form.get("AsyncAmd") == "true",
            amd_callback=form.get("AsyncAmdStatusCallback"),
            timeout=int(form.get("Timeout", "60")),
        )
        with self.lock:
            self.calls[call.sid] = call
        return Response(json.dumps(self._call_json(call)), status=201, mimetype="application/json")

    def _update_call(self, request: Request, sid: str) -> Response:
        call = self.calls.get(sid)
        if call is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        if request.form.get("Status") in ("completed", "canceled"):
            self.hangup(sid)
        elif request.form.get("Url"):
            call.pending = None
            self._fetch_and_run(call, request.form["Url"])
        return Response(json.dumps(self._call_json(call)), status=200, mimetype="application/json")

    def _create_message(self, request: Request) -> Response:
        form = request.form
        to = form.get("To", "")
        from_ = form.get("From") or form.get("MessagingServiceSid", "")
        if not _valid_e164(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        message = FakeMessage(_sid("SM"), to, from_, form["Body"], form.get("StatusCallback"))
        with self.lock:
            self.messages[message.sid] = message
        now = formatdate(usegmt=True)
        body = {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": from_,
            "body": message.body,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": str(1 + (len(message.body) - 1) // 153 if len(message.body) > 160 else 1),
            "num_media": "0",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "price": None,
            "price_unit": "USD",
            "uri": f"{API}{self.account_sid}/Messages/{message.sid}.json",
            "subresource_uris": {"media": f"{API}{self.account_sid}/Messages/{message.sid}/Media.json"},
        }
        return Response(json.dumps(body), status=201, mimetype="application/json")

    # --- webhooks ---------------------------------------------------------------------------

    def sign(self, url: str, params: dict) -> str:
        return self.validator.compute_signature(url, params)

    def post_webhook(
        self, url: str, params: dict, *, signature: str | None = "compute", expect_ok: bool = True
    ) -> requests.Response:
        """POST a form to the platform as Twilio does, with X-Twilio-Signature."""
        headers = {"User-Agent": "TwilioProxy/1.1"}
        if signature == "compute":
            signature = self.sign(url, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = requests.post(url, data=params, headers=headers, timeout=30)
        with self.lock:
            self.webhooks.append((url, dict(params), response.status_code))
        if expect_ok and response.status_code >= 400:
            raise WebhookError(f"{url} answered {response.status_code}: {response.text[:300]}")
        return response

    def post_raw_webhook(self, url: str, body: str, signature: str) -> requests.Response:
        """POST a form body exactly as given (a re-encoded replay of a signed request)."""
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        return requests.post(url, data=body.encode(), headers=headers, timeout=30)

    def _call_params(self, call: FakeCall, **extra) -> dict:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
            "Caller": call.from_,
            "Called": call.to,
        }
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return params

    def _status_callback(self, call: FakeCall, event: str, **extra) -> None:
        if call.status_callback and event in call.status_events:
            params = self._call_params(
                call,
                CallbackSource="call-progress-events",
                SequenceNumber=next(call.sequence),
                Timestamp=formatdate(usegmt=True),
                **extra,
            )
            self.post_webhook(call.status_callback, params)

    # --- the phone side of calls --------------------------------------------------------------

    def call(self, sid: str) -> FakeCall:
        return self.calls[sid]

    def calls_to(self, number: str) -> list[FakeCall]:
        return [c for c in self.calls.values() if c.to == number]

    def ring(self, sid: str) -> None:
        call = self.calls[sid]
        call.status = "initiated"
        self._status_callback(call, "initiated")
        call.status = "ringing"
        self._status_callback(call, "ringing")

    def finish_unanswered(self, sid: str, status: str) -> None:
        """The call ends without an answer: busy, no-answer, failed or canceled."""
        call = self.calls[sid]
        call.status = status
        call.ended = True
        self._status_callback(call, "completed", CallDuration=0)

    def answer(self, sid: str, answered_by: str = "human") -> None:
        """The callee picks up; with AMD, `answered_by` is what detection says (human,
        machine_end_beep, fax, ...). The TwiML of the call's Url is fetched and run."""
        call = self.calls[sid]
        call.status = "in-progress"
        self._status_callback(call, "answered")
        amd = call.machine_detection is not None
        if amd and not call.async_amd:
            self._fetch_and_run(call, call.url, AnsweredBy=answered_by)
            return
        self._fetch_and_run(call, call.url)
        if amd and call.async_amd and call.amd_callback and not call.ended:
            params = self._call_params(call, AnsweredBy=answered_by, MachineDetectionDuration=2100)
            self.post_webhook(call.amd_callback, params)

    def incoming_call(self, from_: str, to: str, voice_url: str, status_url: str | None = None) -> FakeCall:
        """A call to our number; `status_url` is the number's "Call status changes" webhook
        (for an incoming call Twilio posts only when it ends)."""
        call = FakeCall(
            sid=_sid("CA"),
            to=to,
            from_=from_,
            direction="inbound",
            url=voice_url,
            status_callback=status_url,
            status_events=["completed"],
        )
        call.status = "ringing"
        with self.lock:
            self.calls[call.sid] = call
        self._fetch_and_run(call, voice_url)
        return call

    def _fetch_and_run(self, call: FakeCall, url: str, method: str = "POST", **extra) -> None:
        response = self.post_webhook(url, self._call_params(call, **extra))
        call.log.append(("twiml", url, response.status_code))
        call.documents.append((url, response.text))
        self._run(call, response.text, url)

    def _run(self, call: FakeCall, twiml: str, base_url: str) -> None:
        root = ET.fromstring(twiml)
        if root.tag != "Response":
            raise WebhookError(f"not TwiML: {twiml[:200]}")
        self._run_verbs(call, list(root), base_url)

    def _run_verbs(self, call: FakeCall, verbs: list[ET.Element], base_url: str) -> None:
        call.pending = None
        for index, verb in enumerate(verbs):
            if call.ended:
                return
            tag = verb.tag
            if tag == "Say":
                call.heard.append("say:" + (verb.text or "").strip())
            elif tag == "Play":
                call.heard.append("play:" + (verb.text or "").strip())
            elif tag == "Pause":
                continue
            elif tag == "Enqueue":
                call.queued_in = (verb.text or "").strip()
                call.pending = Pending(verb, base_url, verbs[index + 1 :])
                return
            elif tag in ("Gather", "Record", "Dial"):
                if tag == "Gather":
                    for child in verb:
                        call.heard.append(
                            ("say:" if child.tag == "Say" else "play:") + (child.text or "").strip()
                        )
                if tag == "Dial":
                    refusal = dial_refusal(verb)
                    if refusal is not None:  # Twilio ends the Dial at once, status failed
                        call.errors.append(refusal)
                        action = verb.get("action")
                        if action is None:
                            continue
                        self._fetch_and_run(call, urljoin(base_url, action), DialCallStatus="failed")
                        return
                    call.dialed.append("".join(verb.itertext()).strip())
                call.pending = Pending(verb, base_url, verbs[index + 1 :])
                return
            elif tag == "Redirect":
                self._fetch_and_run(call, urljoin(base_url, (verb.text or "").strip()))
                return
            elif tag == "Hangup":
                self._end(call)
                return
            else:
                raise WebhookError(f"fake Twilio does not know <{tag}>")
        self._end(call)  # Twilio hangs up when the document runs out

    def _end(self, call: FakeCall) -> None:
        if call.ended:
            return
        call.ended = True
        call.status = "completed"
        call.pending = None
        self._status_callback(call, "completed", CallDuration=42)

    def _expect(self, sid: str, tag: str) -> Pending:
        call = self.calls[sid]
        if call.pending is None or call.pending.verb.tag != tag:
            now = call.pending.verb.tag if call.pending else "nothing (ended)" if call.ended else "nothing"
            raise AssertionError(f"call waits for {now}, not <{tag}>")
        return call.pending

    def waiting_for(self, sid: str) -> str | None:
        call = self.calls[sid]
        return call.pending.verb.tag if call.pending else None

    def press(self, sid: str, digits: str) -> None:
        call = self.calls[sid]
        pending = self._expect(sid, "Gather")
        action = urljoin(pending.base_url, pending.verb.get("action") or pending.base_url)
        self._fetch_and_run(call, action, Digits=digits, FinishedOnKey="")

    def gather_timeout(self, sid: str) -> None:
        """No digits: Twilio falls through to the verbs after <Gather>."""
        call = self.calls[sid]
        pending = self._expect(sid, "Gather")
        if pending.verb.get("actionOnEmptyResult") == "true":
            action = urljoin(pending.base_url, pending.verb.get("action") or pending.base_url)
            self._fetch_and_run(call, action, Digits="")
            return
        self._run_verbs(call, pending.rest, pending.base_url)

    def speak(
        self, sid: str, audio: bytes | None = None, duration_s: int = 7, recording_available: bool = True
    ) -> str:
        """The caller speaks into a <Record>; returns the RecordingSid."""
        call = self.calls[sid]
        pending = self._expect(sid, "Record")
        recording_sid = _sid("RE")
        if recording_available:
            self.recordings[recording_sid] = audio or silence_wav(1.0)
        recording_url = f"{self.base_url}{API}{self.account_sid}/Recordings/{recording_sid}"
        verb = pending.verb
        action = urljoin(pending.base_url, verb.get("action") or pending.base_url)
        self._fetch_and_run(
            call,
            action,
            RecordingUrl=recording_url,
            RecordingSid=recording_sid,
            RecordingDuration=duration_s,
            Digits="hangup",
        )
        callback = verb.get("recordingStatusCallback")
        if callback:
            self.recordings.setdefault(recording_sid, audio or silence_wav(1.0))
            params = {
                "AccountSid": self.account_sid,
                "CallSid": sid,
                "RecordingSid": recording_sid,
                "RecordingUrl": recording_url,
                "RecordingStatus": "completed",
                "RecordingDuration": str(duration_s),
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
                "RecordingStartTime": formatdate(usegmt=True),
            }
            self.post_webhook(urljoin(pending.base_url, callback), params)
        return recording_sid

    def dial_result(self, sid: str, status: str = "completed", duration_s: int = 30) -> None:
        """The far end of a <Dial>: completed (answered, then hung up), busy, no-answer, failed."""
        call = self.calls[sid]
        pending = self._expect(sid, "Dial")
        action = pending.verb.get("action")
        if action is None:
            if status == "completed":
                self._end(call)
            else:
                self._run_verbs(call, pending.rest, pending.base_url)
            return
        self._fetch_and_run(
            call,
            urljoin(pending.base_url, action),
            DialCallStatus=status,
            DialCallSid=_sid("CA"),
            DialCallDuration=duration_s if status == "completed" else 0,
        )

    # --- the call queue (<Enqueue>) --------------------------------------------------------------

    def queue_wait(self, sid: str, queue_time_s: int) -> str:
        """Twilio asks the wait URL what the waiting caller hears next (QueueTime seconds in):
        a <Gather> is kept for `press_in_queue`, <Leave/> leaves, <Redirect> leaves the queue
        for that URL. Returns the wait TwiML."""
        call = self.calls[sid]
        pending = self._expect(sid, "Enqueue")
        url = urljoin(pending.base_url, pending.verb.get("waitUrl") or "")
        params = self._call_params(
            call, QueueTime=queue_time_s, QueuePosition=1, CurrentQueueSize=1, QueueSid=_sid("QU")
        )
        response = self.post_webhook(url, params)
        call.wait_documents.append((url, response.text))
        self._run_wait(call, response.text, url, queue_time_s)
        return response.text

    def press_in_queue(self, sid: str, digits: str, queue_time_s: int = 5) -> None:
        call = self.calls[sid]
        self._expect(sid, "Enqueue")
        if call.wait_gather is None:
            raise AssertionError("the wait URL runs no <Gather>")
        url = urljoin(call.wait_gather.base_url, call.wait_gather.verb.get("action") or "")
        response = self.post_webhook(url, self._call_params(call, Digits=digits))
        call.wait_documents.append((url, response.text))
        self._run_wait(call, response.text, url, queue_time_s)

    def dequeue(self, sid: str, queue_time_s: int = 20) -> None:
        """A centralist's <Dial><Queue> took the caller; the conversation is over."""
        self._leave_queue(self.calls[sid], "bridged", queue_time_s)

    def hangup_in_queue(self, sid: str, queue_time_s: int = 30) -> None:
        call = self.calls[sid]
        self._leave_queue(call, "hangup", queue_time_s)
        self._end(call)

    def _run_wait(self, call: FakeCall, twiml: str, base_url: str, queue_time_s: int) -> None:
        call.wait_gather = None
        verbs = list(ET.fromstring(twiml))
        for index, verb in enumerate(verbs):
            if verb.tag == "Leave":
                self._leave_queue(call, "leave", queue_time_s)
                return
            if verb.tag == "Redirect":
                call.queued_in = None
                self._fetch_and_run(call, urljoin(base_url, (verb.text or "").strip()))
                return
            if verb.tag == "Gather":
                call.wait_gather = Pending(verb, base_url, verbs[index + 1 :])
                return

    def _leave_queue(self, call: FakeCall, result: str, queue_time_s: int) -> None:
        pending = self._expect(call.sid, "Enqueue")
        call.queued_in = None
        action = pending.verb.get("action")
        params = {"QueueResult": result, "QueueTime": queue_time_s, "QueueSid": _sid("QU")}
        self._fetch_and_run(call, urljoin(pending.base_url, action), **params)

    def hangup(self, sid: str) -> None:
        """The callee hangs up (or the platform asked for it through the REST API)."""
        with self.lock:
            call = self.calls[sid]
        if call.status in ("queued", "initiated", "ringing"):
            self.finish_unanswered(sid, "canceled")
        else:
            self._end(call)

    # --- messages -------------------------------------------------------------------------------

    def message_status(self, sid: str, status: str, error_code: str | None = None) -> requests.Response:
        message = self.messages[sid]
        message.status = status
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "From": message.from_,
            "To": message.to,
        }
        if error_code:
            params["ErrorCode"] = error_code
        return self.post_webhook(message.status_callback, params)

    def incoming_sms(self, from_: str, to: str, body: str, sms_url: str) -> list[str]:
        """A text arrives at our number; returns the reply texts the platform sent in TwiML."""
        sid = _sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "From": from_,
            "To": to,
            "NumMedia": "0",
            "NumSegments": "1",
            "FromCountry": "NL",
            "ToCountry": "NL",
        }
        response = self.post_webhook(sms_url, params)
        root = ET.fromstring(response.text)
        replies = []
        for message in root.iter("Message"):
            body_el = message.find("Body")
            text = (body_el.text if body_el is not None else message.text) or ""
            replies.append(text.strip())
            reply = FakeMessage(_sid("SM"), from_, to, text.strip(), None, status="sent")
            self.messages[reply.sid] = reply
        return replies
