"""The call-back flow: a caller phones the Burgernet number after seeing something.

    welcome (identify the caller by number: participant or not, both welcome)
      ├ no running action ─> "no action active, in an emergency call 112"
      │                      ├ control room known: "press 1 for the control room" ─> transfer ─┐
      │                      └ else goodbye                                                    │
      ├ one running action ─> name it ───────────────┐                                          │
      └ several ─> "press 1 for ..., 2 for ..." ─────┤ (no choice: the control room's line)     │
                                                     v                                          │
      "you are being put through; press 1 to record your sighting instead" (a few seconds)    │
        ├ 1 ─> record after the beep ─────────────────────────────────────────────┐            │
        └ no key ─> transfer to the centralist who started the action             │            │
                    (Operator.transfer_target, else ControlRoom.transfer_target)   │  <─────────┘
             ├ answered ─> the conversation; Sighting row stored (transferred,    │
             │             no recording) and the call ends                        │
             └ no answer / failed / nobody to reach ─> "the control room cannot   │
                 be reached, record after the beep" ─> record ────────────────────┤
                                                                                  v
      file on disk + Sighting row committed ─> "thank you, your report is saved" ─> hang up

A recording is never lost: the audio is filed and the row committed before the thank-you,
also when the caller hangs up while recording. Every call-back that reaches the centralist
or leaves a recording is one Sighting row, so the inbox and the figures see all of them.

Which actions: the running actions this number (or a participant registered with it) was
alerted for, else every running action of the control room whose call-back number was dialed.
Context keys: participant_id, room_id, action_id, delivery_id, sighting_id, and
transfer_result (the status of a transfer that did not connect, kept for the Sighting row).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from callback_line.caller import (
    Caller,
    alert_delivery,
    candidate_actions,
    describe_action,
    identify_caller,
    room_for_dialed_number,
)
from callback_line.recordings import RecordingError, store_recording
from config.logging import log_event
from db.models import Action, Sighting
from ivr.flow import (
    Branch,
    CallEnv,
    Flow,
    FlowError,
    Handler,
    Hangup,
    Input,
    Menu,
    Play,
    Record,
    Say,
    SayFrom,
    Speech,
    Transfer,
)
from ivr.routing import NoTransferTarget, transfer_target_for_action, transfer_target_for_room
from participants.selection import participant_distance_m
from prompts.ivr_prompts import ivr_prompt_text

logger = logging.getLogger(__name__)


def _caller(env: CallEnv) -> Caller:
    return identify_caller(env.session, env.caller_number, env.settings.default_region)


def _candidates(env: CallEnv, ctx: Mapping) -> list[Action]:
    return candidate_actions(env.session, _caller(env), ctx.get("room_id"))


def _chosen(env: CallEnv, action: Action) -> dict:
    update = {"action_id": action.id, "room_id": action.control_room_id}
    delivery = alert_delivery(env.session, _caller(env), action.id)
    if delivery is not None:
        update["delivery_id"] = delivery.id
    return update


# --- handlers ---------------------------------------------------------------------------


def identify(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    caller = _caller(env)
    update = {}
    if caller.participant_ids:
        update["participant_id"] = caller.participant_ids[0]
    room_id = room_for_dialed_number(env.session, env.dialed_number, env.settings.default_region)
    if room_id is not None:
        update["room_id"] = room_id
    log_event(
        logger,
        "callback.call",
        caller=caller.number or "withheld",
        known=caller.known,
        room_id=room_id,
        provider=env.provider,
    )
    return update


def action_count(env: CallEnv, ctx: Mapping) -> str:
    count = len(_candidates(env, ctx))
    return "none" if count == 0 else "one" if count == 1 else "several"


def take_only_action(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    actions = _candidates(env, ctx)
    if len(actions) != 1:
        raise FlowError(f"call-back flow: expected one running action, found {len(actions)}")
    return _chosen(env, actions[0])


def action_name(env: CallEnv, ctx: Mapping) -> str:
    action = env.session.get(Action, ctx.get("action_id"))
    if action is None:
        raise FlowError(f"call-back flow: unknown action {ctx.get('action_id')!r}")
    text = describe_action(action, env.settings.timezone)
    return text[:1].upper() + text[1:] + "."


def action_choice_list(env: CallEnv, ctx: Mapping) -> list[Speech]:
    """ "Belt u over de oproep van 14 uur 50 ..., druk dan op een." per running action."""
    return [
        Speech(
            ivr_prompt_text(
                "callback_action_option",
                env.settings,
                description=describe_action(action, env.settings.timezone),
                digit=n,
            )
        )
        for n, action in enumerate(_candidates(env, ctx), start=1)
    ]


def action_choices(env: CallEnv, ctx: Mapping) -> dict[str, str]:
    return {str(n): "can_transfer" for n in range(1, len(_candidates(env, ctx)) + 1)}


def choose_action(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    actions = _candidates(env, ctx)
    index = int(happened.digits) - 1
    if not 0 <= index < len(actions):
        raise FlowError(f"call-back flow: no action behind digit {happened.digits!r}")
    return _chosen(env, actions[index])


def store_sighting(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """Keep the audio and commit the Sighting row. Runs before the thank-you, and also when
    the caller hangs up while recording."""
    relative_path, duration = None, happened.duration_s
    if happened.recording_path:
        try:
            stored = store_recording(happened.recording_path, env.settings.recordings_dir, env.clock.now())
        except RecordingError as exc:
            log_event(logger, "callback.recording_missing", level=logging.ERROR, error=str(exc))
        else:
            relative_path = stored.relative_path
            duration = stored.duration_s if stored.duration_s is not None else duration
    failed_transfer = ctx.get("transfer_result")
    return _store(
        env,
        ctx,
        recording_path=relative_path,
        duration_s=duration,
        transferred=False,
        transfer_result=str(failed_transfer) if failed_transfer else None,
    )


def store_transfer_result(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """A transfer that connected is a call-back too: one Sighting row without a recording
    (the centralist heard it). One that did not connect is remembered for the recording's row."""
    status = (happened.status or ("answered" if happened.answered else "failed"))[:40]
    if happened.answered:
        return _store(
            env, ctx, recording_path=None, duration_s=None, transferred=True, transfer_result=status
        )
    return {"transfer_result": status}


def _store(
    env: CallEnv,
    ctx: Mapping,
    *,
    recording_path: str | None,
    duration_s: float | None,
    transferred: bool,
    transfer_result: str | None,
) -> dict:
    """Commit one Sighting row for this call. A provider that reports the same call twice
    gets the first row back."""
    session = env.session
    if env.provider_call_id:
        existing = session.scalars(
            select(Sighting).where(
                Sighting.provider == env.provider, Sighting.provider_call_id == env.provider_call_id
            )
        ).first()
        if existing is not None:
            return {"sighting_id": existing.id}
    action = session.get(Action, ctx["action_id"]) if "action_id" in ctx else None
    participant_id = ctx.get("participant_id")
    distance = None
    if action is not None and participant_id is not None:
        distance = participant_distance_m(session, participant_id, action.lat, action.lon)
    caller = _caller(env)
    sighting = Sighting(
        action_id=action.id if action else None,
        control_room_id=action.control_room_id if action else ctx.get("room_id"),
        caller_number=caller.number or _raw_number(env.caller_number),
        participant_id=participant_id,
        delivery_id=ctx.get("delivery_id"),
        distance_m=distance,
        recording_path=recording_path,
        duration_s=duration_s,
        transferred=transferred,
        transfer_result=transfer_result,
        provider=env.provider or None,
        provider_call_id=env.provider_call_id,
        received_at=env.clock.now(),
    )
    session.add(sighting)
    session.commit()
    log_event(
        logger,
        "callback.sighting_stored",
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        recording=recording_path or "none",
        duration_s=duration_s,
        transferred=transferred,
        transfer_result=transfer_result or "",
    )
    return {"sighting_id": sighting.id}


def _raw_number(raw: str | None) -> str | None:
    """A number that is not a valid public one (an internal extension) is kept as given;
    a withheld one ("anonymous", "unknown") is not a number."""
    raw = (raw or "").strip()
    return raw[:32] if any(ch.isdigit() for ch in raw) else None


def transfer_possible(env: CallEnv, ctx: Mapping) -> str:
    return "yes" if _target(env, ctx) else "no"


def _target(env: CallEnv, ctx: Mapping) -> str | None:
    try:
        action = env.session.get(Action, ctx["action_id"]) if "action_id" in ctx else None
        if action is not None:
            return transfer_target_for_action(env.session, action)
        if "room_id" in ctx:
            return transfer_target_for_room(env.session, ctx["room_id"])
    except NoTransferTarget:
        return None
    return None


def action_target(env: CallEnv, ctx: Mapping) -> str:
    target = _target(env, ctx)
    if not target:
        raise FlowError("call-back flow: nobody to put the caller through to")
    return target


def room_known(env: CallEnv, ctx: Mapping) -> str:
    return "yes" if "room_id" in ctx and _target(env, ctx) else "no"


HANDLERS: dict[str, Handler] = {
    "identify": identify,
    "action_count": action_count,
    "take_only_action": take_only_action,
    "action_name": action_name,
    "action_choice_list": action_choice_list,
    "action_choices": action_choices,
    "choose_action": choose_action,
    "store_sighting": store_sighting,
    "transfer_possible": transfer_possible,
    "action_target": action_target,
    "room_known": room_known,
    "store_transfer_result": store_transfer_result,
}

CALLBACK_FLOW = Flow.build(
    "callback",
    start="welcome",
    nodes=[
        Play("welcome", on_enter="identify", prompts=(Say("callback_welcome"),), next="route"),
        Branch(
            "route",
            decide="action_count",
            branches={"none": "no_action", "one": "one_action", "several": "choose_action"},
        ),
        Play(
            "one_action",
            on_enter="take_only_action",
            prompts=(Say("callback_one_action"), SayFrom("action_name")),
            next="can_transfer",
        ),
        Menu(
            "choose_action",
            prompts=(Say("callback_choose_action"), SayFrom("action_choice_list")),
            choices={},
            choices_from="action_choices",
            on_input="choose_action",
            on_exhausted="can_transfer",
            timeout_s=6,
            retries=2,
            invalid_prompts=(Say("invalid"),),
            timeout_prompts=(Say("no_input"),),
        ),
        Branch(
            "can_transfer",
            decide="transfer_possible",
            branches={"yes": "transfer_or_record", "no": "record_unreachable"},
        ),
        Menu(
            "transfer_or_record",
            prompts=(Say("callback_transfer_or_record"),),
            choices={"1": "record"},
            on_exhausted="transfer",
            timeout_s=4,
            retries=0,
        ),
        Transfer(
            "transfer",
            prompts=(),
            target="action_target",
            on_answered="end",
            on_failed="record_unreachable",
            timeout_s=30,
            on_result="store_transfer_result",
        ),
        Record(
            "record",
            prompts=(Say("callback_record"),),
            on_recording="store_sighting",
            next="thanks",
            max_s=120,
            beep=True,
            silence_s=4,
        ),
        Record(
            "record_unreachable",
            prompts=(Say("callback_unreachable_record"),),
            on_recording="store_sighting",
            next="thanks",
            max_s=120,
            beep=True,
            silence_s=4,
        ),
        Hangup("thanks", prompts=(Say("callback_thanks"), Say("callback_saved_bye"))),
        Branch("no_action", decide="room_known", branches={"yes": "offer_room", "no": "no_action_bye"}),
        Menu(
            "offer_room",
            prompts=(Say("callback_no_action"), Say("callback_offer_control_room")),
            choices={"1": "room_transfer"},
            on_exhausted="goodbye",
            timeout_s=6,
            retries=0,
        ),
        Transfer(
            "room_transfer",
            prompts=(Say("callback_transfer"),),
            target="action_target",
            on_answered="end",
            on_failed="record_unreachable",
            timeout_s=30,
            on_result="store_transfer_result",
        ),
        Hangup("no_action_bye", prompts=(Say("callback_no_action"), Say("callback_goodbye"))),
        Hangup("goodbye", prompts=(Say("callback_goodbye"),)),
        Hangup("end"),
    ],
    handlers=HANDLERS,
)
