"""The TwiML renderer of the one call-flow model (ivr/flow.py).

Twilio runs a call one webhook request at a time, so this renderer renders ONE step per
request and tells Twilio where to report what happened. The flow state travels in the URL
(`FlowState.to_params()`; the URL is covered by Twilio's signature, so it cannot be forged),
plus two parameters of our own:

- `ev`: the kind of input the next request carries (`done`, `menu`, `record`, `dial`);
- `n`: the step number, so every request of a call has its own URL and an exact repeat of a
  signed request is recognisable as a replay.

Step -> TwiML:
- PlayStep: `<Say>`/`<Play>` then `<Redirect>` (ev=done). With keys: `<Gather input="dtmf"
  numDigits="1" timeout="1">` around the prompts (ev=menu with the key, at once), then the
  `<Redirect>` (ev=done) that Twilio follows when no key came.
- MenuStep: `<Gather input="dtmf" numDigits actionOnEmptyResult>` around the prompts (ev=menu:
  `Digits` given -> digits, empty -> timeout).
- RecordStep: prompts, `<Record>` with `recordingStatusCallback` (ev=record).
- TransferStep: prompts, `<Dial action timeout>` with `<Number>` for a Dutch E.164 number or
  `<Sip>` for a SIP URI (callback_line.transfer_targets; ev=dial: `DialCallStatus`
  completed/answered -> answered, anything else -> failed). A target Twilio cannot dial (a PBX
  endpoint, free text) is not put in a `<Dial>`: a `<Redirect>` (ev=dial, no status) reports
  the transfer as failed at once.
- QueueStep: prompts, `<Enqueue action waitUrl>queue</Enqueue>` (ev=queue: `QueueResult`
  bridged -> answered, leave -> left, hangup -> hangup, anything else -> unavailable). The wait
  URL (ev=wait, `render_queue_wait`) says the hold prompts inside a `<Gather>` of the leave
  digit (ev=leave: the digit -> `<Leave/>`), and after the maximum wait (`QueueTime`) redirects
  out of the queue with QueueResult=timeout. A centralist's phone takes the next caller with
  `<Dial><Queue>` (`dequeue`).
- AwaitMessageEndStep: Twilio's AMD `DetectMessageEnd` only reports a machine after its beep,
  so there is nothing left to wait for: `<Redirect>` (ev=done).
- HangupStep: prompts, `<Hangup/>`.

The renderer decides nothing about the flow: `input_from_request` turns Twilio's parameters
into the engine's `Input`, and `render` turns the engine's `Step` into TwiML.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from callback_line.transfer_targets import (
    InvalidTransferTarget,
    TargetKind,
    check_usable,
    parse_transfer_target,
)
from config.logging import log_event
from ivr.flow import (
    AwaitMessageEndStep,
    FlowError,
    FlowState,
    HangupStep,
    Input,
    MenuStep,
    PlayStep,
    QueueOutcome,
    QueueStep,
    RecordStep,
    Speech,
    Step,
    TransferStep,
    Turn,
)

logger = logging.getLogger(__name__)

EV_DONE = "done"
EV_MENU = "menu"
EV_RECORD = "record"
EV_DIAL = "dial"
EV_QUEUE = "queue"  # the caller left the queue (Enqueue's action, or our timeout redirect)
EV_WAIT = "wait"  # Enqueue's wait URL: what the waiting caller hears next
EV_LEAVE = "leave"  # the waiting caller pressed a key
_EVENTS = {EV_DONE, EV_MENU, EV_RECORD, EV_DIAL, EV_QUEUE, EV_WAIT, EV_LEAVE}

# Query parameters of ours next to FlowState's (flow, node, tries, c_*).
OWN_PARAMS = ("ev", "n")

# A message that takes keys waits this long for one after its last word (Twilio's minimum).
KEY_GRACE_S = 1

# DialCallStatus values meaning the far end picked up.
DIAL_ANSWERED = {"completed", "answered"}

# Enqueue's QueueResult -> how the wait ended ("timeout" is ours: the wait URL's redirect).
QUEUE_RESULTS = {
    "bridged": QueueOutcome.ANSWERED,
    "bridging-in-process": QueueOutcome.ANSWERED,
    "leave": QueueOutcome.LEFT,
    "timeout": QueueOutcome.TIMEOUT,
    "hangup": QueueOutcome.HANGUP,
}

UrlFor = Callable[[Mapping[str, str]], str]


class TwimlRequestError(FlowError):
    """A voice webhook request that does not fit the flow (tampered or out of date)."""


def state_from_request(query: Mapping[str, str]) -> tuple[FlowState, str, int]:
    """The flow state, the input kind and the step number of a continuing request."""
    ev = query.get("ev", "")
    if ev not in _EVENTS:
        raise TwimlRequestError(f"unknown input kind {ev!r}")
    try:
        step_no = int(query.get("n", "0"))
    except ValueError as exc:
        raise TwimlRequestError("bad step number") from exc
    state = FlowState.from_params({k: v for k, v in query.items() if k not in OWN_PARAMS})
    return state, ev, step_no


def input_from_request(ev: str, form: Mapping[str, str], recording_path: str | None = None) -> Input:
    """What happened, from Twilio's parameters for the input kind we asked for."""
    if ev == EV_DONE:
        return Input.done()
    if ev == EV_MENU:
        digits = (form.get("Digits") or "").strip()
        return Input.digit(digits) if digits else Input.timeout()
    if ev == EV_RECORD:
        duration = form.get("RecordingDuration")
        return Input.recording(recording_path, float(duration) if duration else None)
    if ev == EV_DIAL:
        status = form.get("DialCallStatus", "")
        return Input.transfer(status in DIAL_ANSWERED, status)
    if ev == EV_QUEUE:
        result = form.get("QueueResult", "")
        raw_wait = form.get("QueueTime") or ""
        wait_s = float(raw_wait) if raw_wait.isdigit() else None
        return Input.queued(QUEUE_RESULTS.get(result, QueueOutcome.UNAVAILABLE), wait_s, status=result)
    raise TwimlRequestError(f"unknown input kind {ev!r}")


class TwimlRenderer:
    """Turns one engine `Turn` into a TwiML document.

    `url_for(params)` builds the absolute webhook URL for a query (the voice URL of the flow);
    `recording_callback_url` receives Twilio's recording status callbacks; `say_attributes`
    are the `<Say>` attributes (language nl-NL and a voice); `audio_url(speech)` may return
    the URL of a pre-rendered audio file to `<Play>` instead of `<Say>` (None: say it).
    """

    def __init__(
        self,
        url_for: UrlFor,
        recording_callback_url: str,
        say_attributes: Mapping[str, str],
        audio_url: Callable[[Speech], str | None] | None = None,
    ):
        self.url_for = url_for
        self.recording_callback_url = recording_callback_url
        self.say_attributes = dict(say_attributes)
        self.audio_url = audio_url or (lambda _speech: None)

    def next_url(self, turn: Turn, ev: str, step_no: int) -> str:
        return self.url_for({**turn.state.to_params(), "ev": ev, "n": str(step_no + 1)})

    def render(self, turn: Turn, step_no: int) -> str:
        step = turn.step
        response = VoiceResponse()
        if isinstance(step, PlayStep) and step.digits:
            gather = Gather(
                input="dtmf",
                num_digits=max(len(d) for d in step.digits),
                timeout=KEY_GRACE_S,
                action=self.next_url(turn, EV_MENU, step_no),
                method="POST",
                action_on_empty_result=False,
            )
            self._speak(gather, step.speech)
            response.append(gather)
            response.redirect(self.next_url(turn, EV_DONE, step_no), method="POST")
        elif isinstance(step, PlayStep):
            self._speak(response, step.speech)
            response.redirect(self.next_url(turn, EV_DONE, step_no), method="POST")
        elif isinstance(step, MenuStep):
            width = max((len(d) for d in step.digits), default=1)
            gather = Gather(
                input="dtmf",
                num_digits=width,
                timeout=max(1, round(step.timeout_s)),
                action=self.next_url(turn, EV_MENU, step_no),
                method="POST",
                action_on_empty_result=True,
            )
            self._speak(gather, step.speech)
            response.append(gather)
        elif isinstance(step, RecordStep):
            self._speak(response, step.speech)
            response.record(
                action=self.next_url(turn, EV_RECORD, step_no),
                method="POST",
                max_length=step.max_s,
                timeout=step.silence_s,
                play_beep=step.beep,
                finish_on_key="#",
                trim="trim-silence",
                recording_status_callback=self.recording_callback_url,
                recording_status_callback_method="POST",
            )
        elif isinstance(step, TransferStep):
            try:
                target = check_usable(parse_transfer_target(step.target, endpoints=()), "twilio")
            except InvalidTransferTarget as exc:
                log_event(logger, "twiml.transfer_target_refused", level=logging.WARNING, error=str(exc))
                response.redirect(self.next_url(turn, EV_DIAL, step_no), method="POST")
                return str(response)
            self._speak(response, step.speech)
            dial = Dial(action=self.next_url(turn, EV_DIAL, step_no), method="POST", timeout=step.timeout_s)
            if target.kind is TargetKind.SIP_URI:
                dial.sip(target.value)
            else:
                dial.number(target.value)
            response.append(dial)
        elif isinstance(step, QueueStep):
            gather = Gather(
                input="dtmf",
                num_digits=1,
                timeout=1,
                action=self.url_for({**turn.state.to_params(), "ev": EV_LEAVE, "n": str(step_no)}),
                method="POST",
                action_on_empty_result=True,
            )
            self._speak(gather, step.speech)
            response.append(gather)
        elif isinstance(step, AwaitMessageEndStep):
            response.redirect(self.next_url(turn, EV_DONE, step_no), method="POST")
        elif isinstance(step, HangupStep):
            self._speak(response, step.speech)
            response.hangup()
        else:
            raise TwimlRequestError(f"the TwiML renderer cannot render {type(step).__name__}")
        return str(response)

    def render_enqueue(self, turn: Turn, step_no: int) -> str:
        """The caller heard the queue's prompts without pressing the leave digit: join."""
        step = turn.step
        if not isinstance(step, QueueStep):
            raise TwimlRequestError("not a queue step")
        response = VoiceResponse()
        response.enqueue(
            step.queue,
            action=self.next_url(turn, EV_QUEUE, step_no),
            method="POST",
            wait_url=self.url_for({**turn.state.to_params(), "ev": EV_WAIT, "n": str(step_no)}),
            wait_url_method="POST",
        )
        return str(response)

    def render_queue_wait(self, turn: Turn, step_no: int, queue_time_s: float) -> str:
        """Enqueue's wait URL: the hold prompts with the leave digit; after the maximum wait,
        out of the queue (to the recording)."""
        step = turn.step
        if not isinstance(step, QueueStep):
            raise TwimlRequestError("not a queue step")
        response = VoiceResponse()
        if queue_time_s >= step.max_wait_s:
            url = self.url_for(
                {**turn.state.to_params(), "ev": EV_QUEUE, "n": str(step_no + 1), "QueueResult": "timeout"}
            )
            response.redirect(url, method="POST")
            return str(response)
        gather = Gather(
            input="dtmf",
            num_digits=1,
            timeout=5,
            action=self.url_for({**turn.state.to_params(), "ev": EV_LEAVE, "n": str(step_no), "w": "1"}),
            method="POST",
        )
        self._speak(gather, step.hold_speech)
        response.append(gather)
        return str(response)

    def render_leave(self, turn: Turn, step_no: int, digits: str, waiting: bool) -> str:
        """A key while the queue's prompts played (not in the queue yet) or while waiting."""
        step = turn.step
        if not isinstance(step, QueueStep):
            raise TwimlRequestError("not a queue step")
        left = digits == step.leave_digit
        if waiting:
            response = VoiceResponse()
            if left:
                response.leave()
            return str(response)  # another key: back to the wait music
        if left:
            params = {**turn.state.to_params(), "ev": EV_QUEUE, "n": str(step_no + 1), "QueueResult": "leave"}
            url = self.url_for(params)
            response = VoiceResponse()
            response.redirect(url, method="POST")
            return str(response)
        return self.render_enqueue(turn, step_no)

    def _speak(self, verb, speech: tuple[Speech, ...]) -> None:
        for part in speech:
            url = self.audio_url(part)
            if url:
                verb.play(url)
            else:
                verb.say(part.text, **self.say_attributes)


def dequeue(queue: str, answered_url: str | None = None) -> str:
    """TwiML for a centralist's phone that takes the next caller waiting in `queue`. Twilio
    requests `answered_url` for the caller just before the two are connected (the platform
    notes the row connected there)."""
    response = VoiceResponse()
    dial = Dial()
    if answered_url:
        dial.queue(queue, url=answered_url, method="POST")
    else:
        dial.queue(queue)
    response.append(dial)
    return str(response)


def step_summary(step: Step) -> tuple:
    """A renderer-neutral description of a step (kind, node, texts), for comparing what two
    renderers made of the same flow walk."""
    texts = tuple(s.text for s in getattr(step, "speech", ()))
    return (type(step).__name__, step.node, texts)
