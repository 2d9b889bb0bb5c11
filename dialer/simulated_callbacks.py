"""Simulated call-backs: in training mode, participants the simulator reached phone the call-back line.

Training mode's phone network (dialer.simulator) alerts participants; without call-backs the
sightings inbox, its audio, its handling and transfers could not be practised. Here a share of
the participants who were reached call back, each through the real call-back flow
(ivr.callback_flow, walked through the flow engine as a renderer would, the way
dialer.simulated_ivr walks the alert flow), so every call leaves exactly the rows a real
caller leaves: a Sighting from the first prompt on, the action chosen, a transfer's result,
and a recording filed in the store. The recording is the caller's sighting spoken by the
text-to-speech engine (prompts.tts, espeak-ng by default) in telephone quality.

What a caller does is drawn per delivery (`plan_callback`, seeded by the simulator's seed):
- record: "press 1 to record instead", then speaks the sighting after the beep;
- transfer: waits to be put through to the centralist; the simulated transfer connects
  (the row says transferred), or nobody answers and the caller records after "the control
  room cannot be reached";
- hang up: hangs up while the action is being named (a row with nothing recorded).

Two doors:
- `simulated_callbacks_job`, a cluster-wide job (dialer.jobs): callers whose delay since they
  were reached has passed call now, at most `per_run` a run and `max_per_action` an action.
  Which delivery called is its call id (`SIM-CB-A-<delivery id>`), so a second run, a restart
  or a new scheduler leader never makes the same call twice.
- `trainer_callback`, the trainer's "Simuleer een terugbelactie" in the console: one caller
  now, optionally with the trainer's own words; audited.

Nothing here runs outside training mode: both doors refuse unless the settings say training
mode (the simulated phone network) and the action is a training action. The rows are marked
by their provider, `simulator`, which the inbox shows as simulated.
"""

from __future__ import annotations

import enum
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.errors import ActionError
from callback_line.caller import candidate_actions, identify_caller
from callback_line.inbox import SIMULATED_PROVIDER
from config.clock import Clock
from config.logging import log_event
from config.settings import Settings, SimulatedCallbackSettings
from db.audit import record_audit
from db.database import Database
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Operator,
    PhoneNumber,
    Sighting,
)
from dialer.simulated_sightings import sighting_text
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import (
    CallEnv,
    Engine,
    FlowError,
    Input,
    MenuStep,
    QueueOutcome,
    QueueStep,
    RecordStep,
    TransferStep,
)
from prompts.audio import TELEPHONY_RATE
from prompts.callback_number import callback_number_for
from prompts.errors import PromptError
from prompts.tts import engine_from_settings

logger = logging.getLogger(__name__)

PROVIDER = SIMULATED_PROVIDER  # Sighting.provider of every simulated call-back
AUTOMATIC_PREFIX = "SIM-CB-A-"  # + delivery id: the participant's one call-back
TRAINER_PREFIX = "SIM-CB-T-"  # + a random id: one the trainer asked for
MAX_TURNS = 40
# The participants who may call back: a person (or their voicemail) heard the alert, or the
# SMS or email went out. Not those who opted out on the call.
CALLED_BACK_FROM = (
    DeliveryState.COMPLETED,
    DeliveryState.MACHINE,
    DeliveryState.SENT,
    DeliveryState.DELIVERED,
)
ENGINE = Engine(CALLBACK_FLOW)


class Behaviour(str, enum.Enum):
    RECORD = "record"
    TRANSFER = "transfer"
    HANG_UP = "hang_up"


class NotInTraining(ActionError):
    """A simulated call-back was asked for outside training mode or for a real action."""


@dataclass(frozen=True)
class PlannedCallback:
    """Whether and how the participant of one delivery calls back (pure, reproducible)."""

    delivery_id: int
    delay_s: float  # after the participant was reached
    behaviour: Behaviour
    transfer_answered: bool
    words_seed: int  # seeds the words of the sighting


@dataclass(frozen=True)
class SimulatedCall:
    """One simulated call to the call-back line."""

    call_id: str
    action_id: int
    caller_number: str | None  # None: the number is withheld
    behaviour: Behaviour
    transfer_answered: bool
    text: str  # what the caller says when recording


@dataclass(frozen=True)
class CallbackResult:
    sighting_id: int | None
    nodes: tuple[str, ...]  # the flow nodes the caller went through


def plan_callback(delivery_id: int, profile: SimulatedCallbackSettings, seed: int) -> PlannedCallback | None:
    """The participant of `delivery_id` calls back, or not (None); seeded by (seed, delivery)."""
    rng = random.Random(f"{seed}:callback:{delivery_id}")
    if rng.random() >= profile.rate:
        return None
    delay = profile.delay_min_s + rng.expovariate(1.0 / profile.delay_mean_s)
    weights = [profile.record_share, profile.transfer_share, profile.hang_up_share]
    behaviour = rng.choices(list(Behaviour), weights)[0] if sum(weights) > 0 else Behaviour.RECORD
    answered = rng.random() < profile.transfer_answer_rate
    return PlannedCallback(delivery_id, round(delay, 1), behaviour, answered, rng.randrange(1 << 30))


def require_training(settings: Settings, action: Action | None = None) -> None:
    """Raises NotInTraining unless the platform runs on the simulated network and the action
    (when given) is a training action."""
    if not settings.training_mode:
        raise NotInTraining(
            f"simulated call-backs need training mode (phone backend is {settings.phone_backend})",
            "Gesimuleerde terugbelacties kunnen alleen in de trainingsmodus.",
        )
    if action is not None and not action.training:
        raise NotInTraining(
            f"action {action.id} is not a training action",
            "Deze actie is geen trainingsactie: er wordt niets gesimuleerd.",
        )


# --- the caller's voice -----------------------------------------------------------------------


def spoken_recording(text: str, settings: Settings) -> tuple[Path, float]:
    """The caller's words as a telephone recording (8 kHz mono 16-bit WAV, as Asterisk records),
    in a spool folder beside the store; the flow's recording step moves it into the store."""
    spool = settings.instance_path / "simulated-callbacks"
    spool.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex
    spoken = spool / f"{stem}-tts.wav"
    recording = spool / f"{stem}.wav"
    try:
        engine_from_settings(settings).synthesize(text, spoken)
        audio = AudioSegment.from_wav(spoken).set_channels(1).set_sample_width(2)
        audio = audio.set_frame_rate(TELEPHONY_RATE)
        audio.export(recording, format="wav")
    finally:
        spoken.unlink(missing_ok=True)
    return recording, round(len(audio) / 1000.0, 2)


# --- one call, through the real call-back flow ------------------------------------------------


def place_call(session: Session, call: SimulatedCall, clock: Clock, settings: Settings) -> CallbackResult:
    """Walk the call-back flow as this caller; the flow's handlers write and commit the rows."""
    action = session.get(Action, call.action_id)
    if action is None:
        raise ActionError(f"action {call.action_id} not found", "Deze actie bestaat niet.")
    require_training(settings, action)
    recording: Path | None = None
    duration_s = 0.0
    error = ""
    if call.behaviour != Behaviour.HANG_UP:  # anyone put through may end up recording
        try:
            recording, duration_s = spoken_recording(call.text, settings)
        except (PromptError, OSError, CouldntDecodeError) as exc:  # on the row, as a recorder's failure
            error = f"simulated caller: no speech ({exc})"[:180]
    env = CallEnv(
        session=session,
        clock=clock,
        settings=settings,
        provider=PROVIDER,
        provider_call_id=call.call_id,
        caller_number=call.caller_number,
        dialed_number=callback_number_for(action.control_room, settings.callback_number),
        answered_by="human",
    )
    try:
        nodes = _walk(env, call, recording, duration_s, error)
    finally:
        if recording is not None:
            recording.unlink(missing_ok=True)  # moved into the store unless the flow never asked
    sighting_id = session.scalar(
        select(Sighting.id).where(Sighting.provider == PROVIDER, Sighting.provider_call_id == call.call_id)
    )
    log_event(
        logger,
        "simulator.callback",
        action_id=call.action_id,
        sighting_id=sighting_id,
        caller=call.caller_number or "withheld",
        behaviour=call.behaviour.value,
        nodes=",".join(nodes),
    )
    return CallbackResult(sighting_id, tuple(nodes))


def _walk(
    env: CallEnv, call: SimulatedCall, recording: Path | None, duration_s: float, error: str
) -> list[str]:
    turn = ENGINE.start(env)
    nodes = [turn.state.node]
    for _ in range(MAX_TURNS):
        step = turn.step
        if step.final:
            return nodes
        if call.behaviour == Behaviour.HANG_UP and "action_id" in turn.state.ctx:
            ENGINE.hangup(turn.state, env, None)  # the row stays: nothing recorded, not put through
            nodes.append("hung_up")
            return nodes
        if isinstance(step, MenuStep):
            happened = _menu_input(env, step, dict(turn.state.ctx), call)
        elif isinstance(step, RecordStep):
            happened = Input.recording(str(recording) if recording else None, duration_s, error)
        elif isinstance(step, TransferStep):
            answered = call.transfer_answered
            happened = Input.transfer(answered, "ANSWER" if answered else "NOANSWER")
        elif isinstance(step, QueueStep):
            happened = _queue_input(step, call)
        else:
            happened = Input.done()
        turn = ENGINE.resume(turn.state, happened, env)
        nodes.append(turn.state.node)
    raise FlowError(f"simulated call-back {call.call_id} did not end in {MAX_TURNS} turns")


def _queue_input(step: QueueStep, call: SimulatedCall) -> Input:
    """How this caller's wait in the control room's call queue ends: a caller who wants the
    centralist is taken (or waits out the maximum when nobody answers), the others press the
    leave digit to record."""
    if call.behaviour == Behaviour.TRANSFER:
        if call.transfer_answered:
            return Input.queued(QueueOutcome.ANSWERED, 5.0, agent="simulator")
        return Input.queued(QueueOutcome.TIMEOUT, float(step.max_wait_s))
    return Input.queued(QueueOutcome.LEFT, 3.0)


def _menu_input(env: CallEnv, step: MenuStep, ctx: dict, call: SimulatedCall) -> Input:
    """The key this caller presses at a menu of the call-back flow (a timeout: no key)."""
    if step.node == "choose_action":
        caller = identify_caller(env.session, env.caller_number, env.settings.default_region)
        room_id = ctx.get("room_id")
        actions = candidate_actions(env.session, caller, room_id if isinstance(room_id, int) else None)
        for digit, action in enumerate(actions, start=1):
            if action.id == call.action_id and str(digit) in step.digits:
                return Input.digit(str(digit))
        return Input.timeout()
    wants_one = {
        "transfer_or_record": call.behaviour == Behaviour.RECORD,  # 1: record instead
        "offer_room": call.behaviour == Behaviour.TRANSFER,  # 1: the control room
    }.get(step.node, False)
    return Input.digit("1") if wants_one and "1" in step.digits else Input.timeout()


# --- who calls back now (the scheduler's job) -------------------------------------------------


def due_callbacks(session: Session, clock: Clock, settings: Settings) -> list[SimulatedCall]:
    """The planned call-backs whose time has come and that were not made yet, soonest first
    (at most `per_run`, and `max_per_action` an action counting those made)."""
    require_training(settings)
    simulator = settings.dialer.simulator
    profile = simulator.callbacks
    if profile.rate <= 0 or profile.max_per_action <= 0:
        return []
    now = clock.now()
    reached_at = func.coalesce(Delivery.finished_at, Delivery.answered_at, Delivery.last_attempt_at)
    due: list[tuple[datetime, SimulatedCall]] = []
    actions = session.scalars(
        select(Action)
        .where(Action.status == ActionStatus.RUNNING, Action.training.is_(True))
        .order_by(Action.id)
    ).all()
    for action in actions:
        made = _made_automatically(session, action.id)
        room = profile.max_per_action - made
        if room <= 0:
            continue
        planned: list[tuple[datetime, PlannedCallback]] = []
        for delivery_id, at in session.execute(
            select(Delivery.id, reached_at).where(
                Delivery.action_id == action.id,
                Delivery.kind == DeliveryKind.ALERT,
                Delivery.state.in_(CALLED_BACK_FROM),
                reached_at.is_not(None),
            )
        ):
            plan = plan_callback(delivery_id, profile, simulator.seed)
            if plan is not None and at + timedelta(seconds=plan.delay_s) <= now:
                planned.append((at + timedelta(seconds=plan.delay_s), plan))
        if not planned:
            continue
        call_ids = [AUTOMATIC_PREFIX + str(plan.delivery_id) for _, plan in planned]
        called = set(
            session.scalars(
                select(Sighting.provider_call_id).where(
                    Sighting.provider == PROVIDER, Sighting.provider_call_id.in_(call_ids)
                )
            )
        )
        planned = [item for item in planned if AUTOMATIC_PREFIX + str(item[1].delivery_id) not in called]
        planned.sort(key=lambda item: (item[0], item[1].delivery_id))
        for at, plan in planned[:room]:
            delivery = session.get(Delivery, plan.delivery_id)
            if delivery is None:
                continue
            words = sighting_text(action.incident_type, action.description, random.Random(plan.words_seed))
            call = SimulatedCall(
                call_id=AUTOMATIC_PREFIX + str(plan.delivery_id),
                action_id=action.id,
                caller_number=_number_of(session, delivery),
                behaviour=plan.behaviour,
                transfer_answered=plan.transfer_answered,
                text=words,
            )
            due.append((at, call))
    due.sort(key=lambda item: (item[0], item[1].call_id))
    return [call for _, call in due[: profile.per_run]]


def _made_automatically(session: Session, action_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Sighting)
            .where(
                Sighting.action_id == action_id,
                Sighting.provider == PROVIDER,
                Sighting.provider_call_id.like(AUTOMATIC_PREFIX + "%"),
            )
        )
        or 0
    )


def _number_of(session: Session, delivery: Delivery) -> str | None:
    """The number the participant calls from: the alerted number, else (an email) their phone."""
    if delivery.channel in (Channel.VOICE, Channel.SMS) and delivery.target:
        return delivery.target
    if delivery.participant_id is None:
        return None
    return session.scalars(
        select(PhoneNumber.e164)
        .where(PhoneNumber.participant_id == delivery.participant_id)
        .order_by(PhoneNumber.id)
    ).first()


def run_due_callbacks(db: Database, clock: Clock, settings: Settings) -> int:
    """Let every due caller call (each call its own unit of work); returns how many called."""
    if not settings.training_mode:
        return 0
    with db.session() as session:
        calls = due_callbacks(session, clock, settings)
    made = 0
    for call in calls:
        with db.session() as session:
            try:
                place_call(session, call, clock, settings)
                session.commit()
                made += 1
            except Exception as exc:  # logged; its row (if any) keeps it from being made twice
                session.rollback()
                log_event(
                    logger,
                    "simulator.callback_failed",
                    logging.ERROR,
                    action_id=call.action_id,
                    call_id=call.call_id,
                    error=repr(exc)[:300],
                )
    return made


def simulated_callbacks_job(db: Database, settings: Settings, clock: Clock) -> None:
    """The scheduler's job (dialer.jobs): nothing at all outside training mode."""
    if not settings.training_mode:
        return
    made = run_due_callbacks(db, clock, settings)
    if made:
        log_event(logger, "job.simulated_callbacks", calls=made)


# --- the trainer's button -----------------------------------------------------------------------

# What the trainer can ask the simulated caller to do: (behaviour, the transfer connects).
TRAINER_CHOICES: dict[str, tuple[Behaviour, bool]] = {
    "record": (Behaviour.RECORD, False),
    "transfer": (Behaviour.TRANSFER, True),
    "transfer_unanswered": (Behaviour.TRANSFER, False),
    "hang_up": (Behaviour.HANG_UP, False),
}


def trainer_callback(
    session: Session,
    action_id: int,
    operator: Operator,
    clock: Clock,
    settings: Settings,
    *,
    choice: str = "record",
    text: str = "",
) -> CallbackResult:
    """One simulated caller phones the call-back line now about this running training action,
    saying `text` (or a sighting made from the action's description). Audited."""
    action = session.get(Action, action_id)
    if action is None or action.control_room_id != operator.control_room_id:
        raise ActionError(f"action {action_id} not found for this control room", "Deze actie bestaat niet.")
    require_training(settings, action)
    if action.status != ActionStatus.RUNNING:
        raise ActionError(
            f"action {action_id} is {action.status.value}, not running",
            "Alleen een lopende actie kan een gesimuleerde terugbelactie krijgen.",
        )
    if choice not in TRAINER_CHOICES:
        raise ActionError(f"unknown simulated caller choice {choice!r}", "Kies wat de beller doet.")
    behaviour, answered = TRAINER_CHOICES[choice]
    own_words = text.strip()
    words = own_words or sighting_text(action.incident_type, action.description, random.Random())
    call = SimulatedCall(
        call_id=TRAINER_PREFIX + uuid.uuid4().hex[:12],
        action_id=action.id,
        caller_number=_trainer_caller(session, action),
        behaviour=behaviour,
        transfer_answered=answered,
        text=words,
    )
    record_audit(
        session,
        "training.callback_simulated",
        operator=operator,
        target_type="action",
        target_id=action.id,
        choice=choice,
        own_words=bool(own_words),
        call_id=call.call_id,
    )
    session.commit()  # the request is on record whatever the call does
    return place_call(session, call, clock, settings)


def _trainer_caller(session: Session, action: Action) -> str | None:
    """A participant of the action who has not called back yet, reached ones first (nearest
    first); None (a withheld number) when there is none."""
    used = set(
        session.scalars(
            select(Sighting.caller_number).where(
                Sighting.action_id == action.id, Sighting.provider == PROVIDER
            )
        )
    )
    rows = session.scalars(
        select(Delivery)
        .where(
            Delivery.action_id == action.id,
            Delivery.kind == DeliveryKind.ALERT,
            Delivery.channel.in_([Channel.VOICE, Channel.SMS]),
            Delivery.target.is_not(None),
        )
        .order_by(Delivery.state.in_(CALLED_BACK_FROM).desc(), Delivery.rank, Delivery.id)
        .limit(200)
    ).all()
    return next((d.target for d in rows if d.target not in used), None)
