"""The one call-flow model: flows as data, one engine, renderers that only translate.

In the style of RapidPro's mailroom, a call flow is a graph of named **nodes**. Each node is
one of a handful of step kinds; the engine walks the graph and tells a renderer what the
caller should experience next. Two renderers exist: the FastAGI server (`ivr.fastagi`, runs the
whole loop synchronously on one Asterisk channel) and the TwiML views (one step per webhook
request, Twilio calls back with the caller's input). Renderers never decide anything about the
flow: they execute a `Step`, report what happened as an `Input`, and ask the engine again.

Node kinds (what a flow author writes)
--------------------------------------
- `Play(prompts, next, keys, on_key)`: speak/play prompts, then go to `next`. `keys` (digit ->
  node) makes the prompts interruptible: a key pressed while they play acts at once (the alert
  message's "press 2 to be put through" works during the message, not only in the menu);
  `on_key` names an effect that receives the digit first.
- `Menu(prompts, choices, ...)`: play prompts interruptible by a digit, wait `timeout_s` for one
  digit; a digit in `choices` goes to that node. A timeout or an invalid digit replays the menu
  (after `timeout_prompts` / `invalid_prompts`) up to `retries` more times, then goes to
  `on_exhausted`. `choices_from` names a handler that adds choices computed at run time (for
  "press 1 for the first action, 2 for the second"). `on_input` names an effect that receives
  every valid digit (the alert flow stores each menu choice on the delivery row).
- `Record(prompts, max_s, beep, silence_s, next, on_recording)`: play prompts, record after a
  beep until silence, a key or `max_s`; the renderer stores the audio file locally and reports
  its path; the `on_recording` effect stores it (committed) before the flow moves on. A caller
  who hangs up while recording still has the recording stored (see `Engine.hangup`).
- `Transfer(prompts, target, timeout_s, on_answered, on_failed, on_result)`: put the caller
  through (Asterisk Dial / TwiML <Dial>); `target` names a handler that returns the number or
  SIP target; the renderer reports whether the far end answered.
- `Queue(prompts, queue, hold_prompts, on_answered, on_leave, on_failed, max_wait_s,
  leave_digit, on_result)`: wait in a call queue for the first free centralist (Asterisk
  app_queue, Twilio `<Enqueue>`); `queue` names a handler that returns the queue's name. The
  prompts are said once on joining, `hold_prompts` again and again while waiting. The caller
  who presses `leave_digit`, or who waited `max_wait_s`, goes to `on_leave`; nobody to take
  the call (no member logged in or available) goes to `on_failed`. `on_result` receives the
  outcome and the seconds waited, also when the caller hangs up while waiting.
- `AwaitMessageEnd(max_s, next)`: an answering machine is talking: wait for its beep.
- `Branch(decide, branches)`: no audio; a named handler looks at the call and the database and
  returns a key of `branches`. Renderers never see a Branch.
- `Hangup(prompts)`: play the prompts, hang up. The end of every path.

A flow may name an `on_end` effect: the engine runs it once when the call ends, whether the
flow hung up (a Hangup node is entered) or the caller did (`Engine.hangup`), so a flow can
close its record of the call whatever happened.

Every node may name an `on_enter` effect, run when the engine enters it (for example "store
that the participant confirmed"). Prompts are `Say(key)` (a fixed IVR prompt by key, Dutch text
from `prompts.ivr_prompts`, see `ivr.prompt_texts`) or `SayFrom(handler)` (text computed at run
time, such as the action's frozen voice text). The engine resolves both into `Speech(text, key)` so that a
renderer can play cached audio for the key or speak the text.

Named handlers
--------------
A flow carries a table `handlers: name -> function`. Every handler receives the `CallEnv` (DB
session, clock, settings, caller number, ...) and the `FlowState.ctx`; effects also receive the
`Input`. Kinds by use: effect `(env, ctx, input) -> dict | None` (returned keys update ctx),
decide `(env, ctx) -> str`, speech `(env, ctx) -> str | list[Speech]`, target `(env, ctx) -> str`,
choices `(env, ctx) -> dict[digit, node]`. Effects that must survive a dropped call commit
their own unit of work (`env.session.commit()`).

Resuming
--------
The engine keeps no memory between turns: `FlowState(node, ctx, tries)` is all it needs. `ctx`
holds only small ids (delivery_id, action_id, sighting_id, ...), so the state fits in a URL
query string (`FlowState.to_params()` / `FlowState.from_params()`) for the TwiML renderer.

The loop a renderer runs::

    turn = engine.start(env, ctx)
    while not turn.step.final:
        happened = execute(turn.step)           # wire format: AGI commands or TwiML
        turn = engine.resume(turn.state, happened, env)
    execute(turn.step)                          # the Hangup

When the caller hangs up during a step, the renderer calls `engine.hangup(state, env, last)`
with what the step still produced (a partial recording, a transfer's status), and stops.
Handlers may raise; a renderer then sends the call to its safe fallback (FastAGI: the
fallback dialplan context), never to dead air.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ivr.prompt_texts import UnknownPromptKey, prompt_text

# --- prompts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """A fixed IVR prompt by key (see prompts.ivr_prompts.IVR_PROMPTS)."""

    key: str


@dataclass(frozen=True)
class SayFrom:
    """Text computed at run time by the named speech handler (e.g. the action's voice text)."""

    handler: str


PromptRef = Say | SayFrom


@dataclass(frozen=True)
class Speech:
    """A resolved prompt: the Dutch text, and the fixed prompt key when there is one."""

    text: str
    key: str | None = None


# --- nodes (what a flow author writes) ----------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    on_enter: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Play(Node):
    prompts: tuple[PromptRef, ...]
    next: str
    keys: Mapping[str, str] = field(default_factory=dict)
    on_key: str | None = None


@dataclass(frozen=True)
class Menu(Node):
    prompts: tuple[PromptRef, ...]
    choices: Mapping[str, str]
    on_exhausted: str
    timeout_s: float = 6.0
    retries: int = 2
    invalid_prompts: tuple[PromptRef, ...] = ()
    timeout_prompts: tuple[PromptRef, ...] = ()
    choices_from: str | None = None
    on_input: str | None = None


@dataclass(frozen=True)
class Record(Node):
    prompts: tuple[PromptRef, ...]
    next: str
    on_recording: str
    max_s: int = 120
    beep: bool = True
    silence_s: int = 4


@dataclass(frozen=True)
class Transfer(Node):
    prompts: tuple[PromptRef, ...]
    target: str
    on_answered: str
    on_failed: str
    timeout_s: int = 30
    on_result: str | None = None


@dataclass(frozen=True)
class Queue(Node):
    prompts: tuple[PromptRef, ...]
    queue: str
    on_answered: str
    on_leave: str
    on_failed: str
    hold_prompts: tuple[PromptRef, ...] = ()
    max_wait_s: int = 180
    leave_digit: str = "1"
    on_result: str | None = None


@dataclass(frozen=True)
class AwaitMessageEnd(Node):
    next: str
    max_s: int = 30


@dataclass(frozen=True)
class Branch(Node):
    decide: str
    branches: Mapping[str, str]


@dataclass(frozen=True)
class Hangup(Node):
    prompts: tuple[PromptRef, ...] = ()


AnyNode = Play | Menu | Record | Transfer | Queue | AwaitMessageEnd | Branch | Hangup


# --- steps (what a renderer executes) ---------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Base of every instruction to a renderer; `node` is the flow node it came from."""

    node: str

    @property
    def final(self) -> bool:
        return False


@dataclass(frozen=True)
class PlayStep(Step):
    speech: tuple[Speech, ...]
    digits: frozenset[str] = frozenset()  # keys that interrupt the prompts and act at once


@dataclass(frozen=True)
class MenuStep(Step):
    speech: tuple[Speech, ...]
    digits: frozenset[str]  # the digits that make a valid choice (interrupt the prompts too)
    timeout_s: float


@dataclass(frozen=True)
class RecordStep(Step):
    speech: tuple[Speech, ...]
    max_s: int
    beep: bool
    silence_s: int


@dataclass(frozen=True)
class TransferStep(Step):
    speech: tuple[Speech, ...]
    target: str
    timeout_s: int


@dataclass(frozen=True)
class QueueStep(Step):
    speech: tuple[Speech, ...]  # said once, on joining
    hold_speech: tuple[Speech, ...]  # said again and again while waiting
    queue: str
    max_wait_s: int
    leave_digit: str


@dataclass(frozen=True)
class AwaitMessageEndStep(Step):
    max_s: int


@dataclass(frozen=True)
class HangupStep(Step):
    speech: tuple[Speech, ...]

    @property
    def final(self) -> bool:
        return True


# --- input (what the renderer reports back) ---------------------------------------------


class InputKind(str, enum.Enum):
    DONE = "done"  # a Play or AwaitMessageEnd finished
    DIGITS = "digits"
    TIMEOUT = "timeout"  # no digit before the menu's timeout
    RECORDING = "recording"
    TRANSFER = "transfer"
    QUEUE = "queue"


class QueueOutcome(str, enum.Enum):
    """How a wait in a call queue ended."""

    ANSWERED = "answered"  # a centralist took the call (the conversation is over or going on)
    LEFT = "left"  # the caller pressed the leave digit
    TIMEOUT = "timeout"  # the maximum wait passed
    UNAVAILABLE = "unavailable"  # nobody to take it: no member, all paused, queue full
    HANGUP = "hangup"  # the caller hung up while waiting


@dataclass(frozen=True)
class Input:
    kind: InputKind
    digits: str = ""
    recording_path: str | None = None  # local path of the stored audio file
    duration_s: float | None = None
    answered: bool = False  # transfer: the far end answered
    status: str = ""  # transfer: the provider's status (ANSWER, BUSY, no-answer, ...)
    error: str = ""  # recording: what went wrong as the renderer saw it (a write error, ...)
    queue_outcome: QueueOutcome | None = None  # queue: how the wait ended
    wait_s: float | None = None  # queue: seconds the caller waited
    agent: str = ""  # queue: who answered (Asterisk member interface, Twilio queue member)

    @classmethod
    def done(cls) -> Input:
        return cls(InputKind.DONE)

    @classmethod
    def digit(cls, digits: str) -> Input:
        return cls(InputKind.DIGITS, digits=digits)

    @classmethod
    def timeout(cls) -> Input:
        return cls(InputKind.TIMEOUT)

    @classmethod
    def recording(cls, path: str | None, duration_s: float | None, error: str = "") -> Input:
        """`duration_s` is the length the recorder itself reports (Asterisk's end position,
        Twilio's RecordingDuration), to compare with what reached the disk."""
        return cls(InputKind.RECORDING, recording_path=path, duration_s=duration_s, error=error)

    @classmethod
    def transfer(cls, answered: bool, status: str = "") -> Input:
        return cls(InputKind.TRANSFER, answered=answered, status=status)

    @classmethod
    def queued(cls, outcome: QueueOutcome, wait_s: float | None, agent: str = "", status: str = "") -> Input:
        return cls(
            InputKind.QUEUE,
            queue_outcome=outcome,
            wait_s=wait_s,
            agent=agent,
            answered=outcome is QueueOutcome.ANSWERED,
            status=status or outcome.value,
        )


# --- state and call environment ---------------------------------------------------------

Scalar = int | str


@dataclass(frozen=True)
class FlowState:
    """Everything the engine needs to continue a call: small enough for a query string."""

    flow: str
    node: str
    ctx: Mapping[str, Scalar] = field(default_factory=dict)
    tries: int = 0  # failed attempts at the current menu

    def to_params(self) -> dict[str, str]:
        params = {"flow": self.flow, "node": self.node, "tries": str(self.tries)}
        for key, value in self.ctx.items():
            params[f"c_{key}"] = f"i{value}" if isinstance(value, int) else f"s{value}"
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FlowState:
        try:
            ctx: dict[str, Scalar] = {}
            for key, raw in params.items():
                if not key.startswith("c_"):
                    continue
                if raw[:1] == "i":
                    ctx[key[2:]] = int(raw[1:])
                elif raw[:1] == "s":
                    ctx[key[2:]] = raw[1:]
                else:
                    raise ValueError(f"bad context value for {key!r}")
            return cls(params["flow"], params["node"], ctx, int(params.get("tries", "0")))
        except (KeyError, ValueError) as exc:
            raise FlowError(f"cannot restore flow state from parameters: {exc}") from exc


@dataclass
class CallEnv:
    """What the handlers may use during one turn. Built by the renderer for each call/request.

    `caller_number` is the E.164 (or raw) calling number, `dialed_number` the number called (the
    call-back line), `answered_by` the provider's answering-machine verdict when known
    ("human", "machine", "machine_end_beep", ...).
    """

    session: Any  # sqlalchemy.orm.Session
    clock: Any  # config.clock.Clock
    settings: Any  # config.settings.Settings
    provider: str = ""
    provider_call_id: str | None = None
    caller_number: str | None = None
    dialed_number: str | None = None
    answered_by: str | None = None


class FlowError(Exception):
    """The flow definition or a flow state is wrong (a bug or a tampered request)."""


@dataclass(frozen=True)
class Turn:
    step: Step
    state: FlowState


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, AnyNode]
    handlers: Mapping[str, Handler]
    on_end: str | None = None

    @classmethod
    def build(
        cls,
        name: str,
        start: str,
        nodes: list[AnyNode],
        handlers: Mapping[str, Handler],
        on_end: str | None = None,
    ) -> Flow:
        table = {}
        for node in nodes:
            if node.id in table:
                raise FlowError(f"flow {name}: node {node.id!r} defined twice")
            table[node.id] = node
        flow = cls(name, start, table, dict(handlers), on_end)
        flow.validate()
        return flow

    def validate(self) -> None:
        """Every edge leads to a node and every named handler exists."""
        if self.start not in self.nodes:
            raise FlowError(f"flow {self.name}: start node {self.start!r} missing")
        if self.on_end and self.on_end not in self.handlers:
            raise FlowError(f"flow {self.name}: on_end names unknown handler {self.on_end!r}")
        for node in self.nodes.values():
            for target in _edges(node):
                if target not in self.nodes:
                    raise FlowError(f"flow {self.name}: node {node.id!r} leads to unknown {target!r}")
            for name in _handler_names(node):
                if name not in self.handlers:
                    raise FlowError(f"flow {self.name}: node {node.id!r} names unknown handler {name!r}")


def _edges(node: AnyNode) -> list[str]:
    if isinstance(node, Play):
        return [node.next, *node.keys.values()]
    if isinstance(node, Record | AwaitMessageEnd):
        return [node.next]
    if isinstance(node, Menu):
        return [*node.choices.values(), node.on_exhausted]
    if isinstance(node, Transfer):
        return [node.on_answered, node.on_failed]
    if isinstance(node, Queue):
        return [node.on_answered, node.on_leave, node.on_failed]
    if isinstance(node, Branch):
        return list(node.branches.values())
    return []


def _handler_names(node: AnyNode) -> list[str]:
    names = [node.on_enter]
    prompts: tuple[PromptRef, ...] = getattr(node, "prompts", ())
    if isinstance(node, Menu):
        prompts = prompts + node.invalid_prompts + node.timeout_prompts
        names += [node.choices_from, node.on_input]
    if isinstance(node, Play):
        names.append(node.on_key)
    if isinstance(node, Record):
        names.append(node.on_recording)
    if isinstance(node, Transfer):
        names += [node.target, node.on_result]
    if isinstance(node, Queue):
        prompts = prompts + node.hold_prompts
        names += [node.queue, node.on_result]
    if isinstance(node, Branch):
        names.append(node.decide)
    names += [p.handler for p in prompts if isinstance(p, SayFrom)]
    return [n for n in names if n]


# --- the engine ---------------------------------------------------------------------------

MAX_AUTOMATIC_HOPS = 50  # Branch/effect chains longer than this are a loop in the flow


class Engine:
    """Interprets a `Flow`. Stateless: every call passes the `FlowState` back in."""

    def __init__(self, flow: Flow):
        self.flow = flow

    # public API ------------------------------------------------------------------------

    def start(self, env: CallEnv, ctx: Mapping[str, Scalar] | None = None) -> Turn:
        state = FlowState(self.flow.name, self.flow.start, dict(ctx or {}))
        return self._enter(state, env)

    def resume(self, state: FlowState, happened: Input, env: CallEnv) -> Turn:
        """The renderer executed the step of `state.node`; here is what happened."""
        node = self._node(state)
        if isinstance(node, Play) and happened.kind is InputKind.DIGITS:
            if happened.digits not in node.keys:
                raise FlowError(f"flow {self.flow.name}: play {node.id!r} takes no key {happened.digits!r}")
            if node.on_key:
                state = self._effect(node.on_key, state, env, happened)
            return self._goto(state, node.keys[happened.digits], env)
        if isinstance(node, Play | AwaitMessageEnd):
            return self._goto(state, node.next, env)
        if isinstance(node, Menu):
            return self._menu_input(node, state, happened, env)
        if isinstance(node, Record):
            self._expect(node, happened, InputKind.RECORDING)
            state = self._effect(node.on_recording, state, env, happened)
            return self._goto(state, node.next, env)
        if isinstance(node, Transfer):
            self._expect(node, happened, InputKind.TRANSFER)
            if node.on_result:
                state = self._effect(node.on_result, state, env, happened)
            return self._goto(state, node.on_answered if happened.answered else node.on_failed, env)
        if isinstance(node, Queue):
            self._expect(node, happened, InputKind.QUEUE)
            if node.on_result:
                state = self._effect(node.on_result, state, env, happened)
            return self._goto(state, _queue_exit(node, happened), env)
        raise FlowError(f"flow {self.flow.name}: node {node.id!r} takes no input")

    def hangup(self, state: FlowState, env: CallEnv, last: Input | None = None) -> None:
        """The caller hung up during the step of `state.node`; `last` is what that step still
        produced. A recording in progress is stored (a sighting is never lost), a transfer's or a
        queue's result is recorded, then the flow's `on_end` runs; nothing else happens."""
        node = self._node(state)
        if last is not None:
            if isinstance(node, Record):
                self._expect(node, last, InputKind.RECORDING)
                state = self._effect(node.on_recording, state, env, last)
            elif isinstance(node, Transfer) and node.on_result:
                self._expect(node, last, InputKind.TRANSFER)
                state = self._effect(node.on_result, state, env, last)
            elif isinstance(node, Queue) and node.on_result:
                self._expect(node, last, InputKind.QUEUE)
                state = self._effect(node.on_result, state, env, last)
        if self.flow.on_end:
            self._effect(self.flow.on_end, state, env, last)

    def step_for(self, state: FlowState, env: CallEnv) -> Step:
        """The step of `state.node` again, without running any effect: for a renderer that is
        asked about a step in progress (Twilio's queue wait URL, every few seconds)."""
        return self._step(self._node(state), state, env)

    def speech(self, refs: tuple[PromptRef, ...], state: FlowState, env: CallEnv) -> tuple[Speech, ...]:
        out: list[Speech] = []
        for ref in refs:
            if isinstance(ref, Say):
                out.append(Speech(_prompt_text(ref.key, env), ref.key))
            else:
                value = self._handler(ref.handler)(env, state.ctx)
                if isinstance(value, str):
                    out.append(Speech(value))
                else:
                    out.extend(value)
        return tuple(out)

    # internals -------------------------------------------------------------------------

    def _node(self, state: FlowState) -> AnyNode:
        if state.flow != self.flow.name:
            raise FlowError(f"state belongs to flow {state.flow!r}, not {self.flow.name!r}")
        try:
            return self.flow.nodes[state.node]
        except KeyError:
            raise FlowError(f"flow {self.flow.name}: no node {state.node!r}") from None

    def _handler(self, name: str) -> Handler:
        try:
            return self.flow.handlers[name]
        except KeyError:
            raise FlowError(f"flow {self.flow.name}: no handler {name!r}") from None

    def _effect(self, name: str, state: FlowState, env: CallEnv, happened: Input | None) -> FlowState:
        update = self._handler(name)(env, state.ctx, happened)
        if update:
            return replace(state, ctx={**state.ctx, **update})
        return state

    def _expect(self, node: AnyNode, happened: Input, kind: InputKind) -> None:
        if happened.kind is not kind:
            raise FlowError(
                f"flow {self.flow.name}: node {node.id!r} expects {kind.value}, got {happened.kind.value}"
            )

    def _goto(self, state: FlowState, node_id: str, env: CallEnv) -> Turn:
        return self._enter(replace(state, node=node_id, tries=0), env)

    def _enter(self, state: FlowState, env: CallEnv) -> Turn:
        for _ in range(MAX_AUTOMATIC_HOPS):
            node = self._node(state)
            if node.on_enter:
                state = self._effect(node.on_enter, state, env, None)
            if isinstance(node, Branch):
                key = self._handler(node.decide)(env, state.ctx)
                if key not in node.branches:
                    raise FlowError(f"flow {self.flow.name}: branch {node.id!r} has no way for {key!r}")
                state = replace(state, node=node.branches[key], tries=0)
                continue
            if isinstance(node, Hangup) and self.flow.on_end:
                state = self._effect(self.flow.on_end, state, env, None)
            return Turn(self._step(node, state, env), state)
        raise FlowError(f"flow {self.flow.name}: more than {MAX_AUTOMATIC_HOPS} branches in a row")

    def _step(self, node: AnyNode, state: FlowState, env: CallEnv, extra: tuple[PromptRef, ...] = ()) -> Step:
        if isinstance(node, Play):
            return PlayStep(node.id, self.speech(node.prompts, state, env), frozenset(node.keys))
        if isinstance(node, Menu):
            return MenuStep(
                node.id,
                self.speech(extra + node.prompts, state, env),
                frozenset(self._choices(node, state, env)),
                node.timeout_s,
            )
        if isinstance(node, Record):
            return RecordStep(
                node.id, self.speech(node.prompts, state, env), node.max_s, node.beep, node.silence_s
            )
        if isinstance(node, Transfer):
            target = self._handler(node.target)(env, state.ctx)
            if not target:
                raise FlowError(f"flow {self.flow.name}: no transfer target at {node.id!r}")
            return TransferStep(node.id, self.speech(node.prompts, state, env), target, node.timeout_s)
        if isinstance(node, Queue):
            name = self._handler(node.queue)(env, state.ctx)
            if not name:
                raise FlowError(f"flow {self.flow.name}: no queue at {node.id!r}")
            return QueueStep(
                node.id,
                self.speech(node.prompts, state, env),
                self.speech(node.hold_prompts, state, env),
                name,
                node.max_wait_s,
                node.leave_digit,
            )
        if isinstance(node, AwaitMessageEnd):
            return AwaitMessageEndStep(node.id, node.max_s)
        if isinstance(node, Hangup):
            return HangupStep(node.id, self.speech(node.prompts, state, env))
        raise FlowError(f"flow {self.flow.name}: cannot render node {node.id!r}")

    def _choices(self, node: Menu, state: FlowState, env: CallEnv) -> dict[str, str]:
        choices = dict(node.choices)
        if node.choices_from:
            for digit, target in self._handler(node.choices_from)(env, state.ctx).items():
                if target not in self.flow.nodes:
                    raise FlowError(f"flow {self.flow.name}: choice {digit!r} leads to unknown {target!r}")
                choices[digit] = target
        return choices

    def _menu_input(self, node: Menu, state: FlowState, happened: Input, env: CallEnv) -> Turn:
        choices = self._choices(node, state, env)
        if happened.kind is InputKind.DIGITS and happened.digits in choices:
            if node.on_input:
                state = self._effect(node.on_input, state, env, happened)
            return self._goto(state, choices[happened.digits], env)
        if happened.kind not in (InputKind.DIGITS, InputKind.TIMEOUT):
            raise FlowError(f"flow {self.flow.name}: menu {node.id!r} got {happened.kind.value}")
        if state.tries >= node.retries:
            return self._goto(state, node.on_exhausted, env)
        state = replace(state, tries=state.tries + 1)
        extra = node.timeout_prompts if happened.kind is InputKind.TIMEOUT else node.invalid_prompts
        return Turn(self._step(node, state, env, extra), state)


def _queue_exit(node: Queue, happened: Input) -> str:
    outcome = happened.queue_outcome
    if outcome is QueueOutcome.ANSWERED:
        return node.on_answered
    if outcome in (QueueOutcome.LEFT, QueueOutcome.TIMEOUT):
        return node.on_leave
    return node.on_failed


def _prompt_text(key: str, env: CallEnv) -> str:
    try:
        return prompt_text(key, env.settings)
    except UnknownPromptKey as exc:
        raise FlowError(str(exc)) from None


def walk(engine: Engine, env: CallEnv, ctx: Mapping[str, Scalar], inputs: list[Input]) -> list[Turn]:
    """Run a flow with scripted inputs, as a renderer would, and return every turn.

    Each input answers the step of the turn before it; the walk stops at the Hangup. Tests of
    both renderers use it to compare what each one does with the same flow.
    """
    turns = [engine.start(env, ctx)]
    pending = list(inputs)
    while not turns[-1].step.final:
        if not pending:
            raise FlowError(f"walk: no input left for step at {turns[-1].state.node!r}")
        turns.append(engine.resume(turns[-1].state, pending.pop(0), env))
    if pending:
        raise FlowError(f"walk: flow hung up with {len(pending)} inputs unused")
    return turns
