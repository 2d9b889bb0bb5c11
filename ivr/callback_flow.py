"""The call-back flow: a caller phones the Burgernet number after seeing something.

    welcome (identify the caller by number: participant or not, both welcome;
             the call's Sighting row is written now, recording_status 'none')
      ├ no running action ─> "no action active, in an emergency call 112"
      │                      ├ control room known: "press 1 for the control room" ─> transfer ─┐
      │                      └ else goodbye                                                    │
      ├ one running action ─> name it ───────────────┐                                          │
      └ several ─> "press 1 for ..., 2 for ..." ─────┤ (no choice: the control room's line)     │
                                                     v                                          │
      "you are being put through; press 1 to record your sighting instead" (a few seconds)    │
        ├ 1 ─> room to record? ─ yes ─> record after the beep ────────────────────┐            │
        │                       └ no ─> "cannot be recorded", put through ───┐    │            │
        └ no key ─> transfer to the centralist who started the action        │    │            │
                    (Operator.transfer_target, else ControlRoom.transfer_target)   │  <─────────┘
             ├ answered ─> the conversation; the row says transferred     │    │
             └ no answer / failed / nobody to reach ─> room to record? ─ no ─> "cannot be
                 recorded, the control room is unreachable: call 112" ─> hang up
                                      └ yes ─> "the control room cannot be reached, record
                                               after the beep" ─> record ─────────┤
                                                                                  v
      row (recording 'failed' until filed) ─> audio assessed and moved ─> row updated
        ├ complete ─> "thank you, your report is saved" ─> hang up
        └ truncated / failed ─> said honestly ("only partly recorded" / "not recorded"),
                                then put through, or "call 112" when that is not possible

The control room's call queue (ControlRoom.callback_queue set): instead of the offer and the
direct transfer, the caller joins the queue (row: waiting) and hears their position and the
expected wait, then the hold announcement ("press 1 to record instead") while waiting
(Asterisk app_queue, Twilio <Enqueue>). A centralist takes the call (connected; the PBX says so
at once, `callback_line.queue.note_answered`), the caller presses 1 or waits QUEUE_MAX_WAIT_S
(record after the beep), or nobody can take it (the "cannot be reached, record" path). Every
call's row then ends connected, recorded or missed (with the wait) in `close_call`, the flow's
`on_end`, whether the flow or the caller hung up (`callback_line.line_states`). A room that
rings the action's own centralist first (`callback_own_centralist_first`) puts a caller about
an action through to the desk of the centralist who started it, for OWN_CENTRALIST_RING_S,
before the queue, when that centralist is available and not talking to another caller.

State lives in the database first: every call to the line is one Sighting row from its first
prompt on (a caller who hangs up during the welcome is a row with recording_status 'none'),
updated as the call goes: the action chosen, the transfer's result, the recording. Before a
recording is moved, the row already says 'failed' and where the audio is; after the move it
says complete, truncated (duration_s = the seconds kept) or failed with the reason
(`recording_error`). The caller hears "vastgelegd" only for a complete recording in the store.
A recording that is not complete is logged as `callback.recording_failed` (level ERROR) for
the operators; the admin status page and the metric read `Sighting.recording_status`.

Which actions: the running actions this number (or a participant registered with it) was
alerted for, else every running action of the control room whose call-back number was dialed.
Context keys: participant_id, room_id, action_id, delivery_id, sighting_id, transfer_result
(the status of a transfer that did not connect), recording (complete | truncated | failed,
after the recording step; held when Twilio keeps a recording not fetched yet, filed by its
recording callback) and no_room (set when there was no room to record).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from callback_line import line_states
from callback_line.caller import (
    Caller,
    alert_delivery,
    candidate_actions,
    describe_action,
    identify_caller,
    room_for_dialed_number,
)
from callback_line.queue import expected_wait_minutes, log_ended, queue_position, room_queue
from callback_line.recordings import COMPLETE, FAILED, NONE, clip, file_recording, recording_space
from config.logging import log_event
from db.models import Action, ControlRoom, Operator, Sighting
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
    Queue,
    QueueOutcome,
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


def _chosen(env: CallEnv, ctx: Mapping, action: Action) -> dict:
    update = {"action_id": action.id, "room_id": action.control_room_id}
    delivery = alert_delivery(env.session, _caller(env), action.id)
    if delivery is not None:
        update["delivery_id"] = delivery.id
    sighting = _row(env, {**ctx, **update})
    sighting.action_id = action.id
    sighting.control_room_id = action.control_room_id
    sighting.delivery_id = update.get("delivery_id")
    participant_id = ctx.get("participant_id")
    if participant_id is not None:
        sighting.distance_m = participant_distance_m(env.session, participant_id, action.lat, action.lon)
    env.session.commit()
    return {**update, "sighting_id": sighting.id}


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
    sighting = _row(env, update)
    line_states.advance(sighting, line_states.IVR, env.clock.now())
    env.session.commit()  # the call is on record before the caller hears a word
    return {**update, "sighting_id": sighting.id}


def action_count(env: CallEnv, ctx: Mapping) -> str:
    count = len(_candidates(env, ctx))
    return "none" if count == 0 else "one" if count == 1 else "several"


def take_only_action(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    actions = _candidates(env, ctx)
    if len(actions) != 1:
        raise FlowError(f"call-back flow: expected one running action, found {len(actions)}")
    return _chosen(env, ctx, actions[0])


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
    return _chosen(env, ctx, actions[index])


def store_sighting(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """File the recording on the call's row. Runs before the caller hears anything more, also
    when the caller hung up while recording. The row is committed first, saying 'failed' and
    where the audio is; then the audio is assessed and moved, and the row says what came of it."""
    sighting = _row(env, ctx)
    source = happened.recording_path
    sighting.recording_status = FAILED
    sighting.recording_error = clip(
        f"not filed yet; audio at {source}" if source else happened.error or "no audio file"
    )
    sighting.duration_s = happened.duration_s
    env.session.commit()
    kept = file_recording(
        sighting, source, happened.duration_s, happened.error, env.settings.recordings_dir, env.clock.now()
    )
    held = env.provider == "twilio" and not source and not happened.error
    if held:
        # Twilio recorded it and keeps it; it was not fetched yet (not available at once, or
        # our store refused it). Its recording callback files it and updates this row.
        sighting.recording_error = "not in the store yet: held by Twilio until its recording callback"
    env.session.commit()
    level, event = (logging.INFO, "callback.sighting_stored")
    if held:
        level, event = (logging.WARNING, "callback.recording_pending")
    elif not kept.complete:  # the operators' alert; the status page reads recording_status
        level, event = (logging.ERROR, "callback.recording_failed")
    log_event(
        logger,
        event,
        level,
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        caller=sighting.caller_number or "withheld",
        status=kept.status,
        recording=kept.relative_path or "none",
        duration_s=sighting.duration_s,
        reported_s=happened.duration_s,
        transfer_result=sighting.transfer_result or "",
        error=kept.error or "",
    )
    return {"sighting_id": sighting.id, "recording": "held" if held else kept.status}


def store_transfer_result(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """A transfer that connected is a call-back too: the row says transferred (the centralist
    heard it). One that did not connect is remembered on the row and for the recording."""
    status = (happened.status or ("answered" if happened.answered else "failed"))[:40]
    sighting = _row(env, ctx)
    sighting.transferred = bool(happened.answered)
    sighting.transfer_result = status
    env.session.commit()
    log_event(
        logger,
        "callback.transfer",
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        answered=bool(happened.answered),
        transfer_result=status,
    )
    update: dict = {"sighting_id": sighting.id}
    if not happened.answered:
        update["transfer_result"] = status
    return update


def check_recording_space(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    """Before the caller is asked to speak: room in the recorder's directory (Asterisk's; Twilio
    records on its side) and in the platform's store. Without it the row says 'failed' with the
    reason, and the operators are told."""
    minimum = int(env.settings.recording_min_free_mb * 1_000_000)
    directories = [env.settings.recordings_dir]
    if env.provider == "asterisk":
        directories.insert(0, env.settings.asterisk.recordings_dir)
    try:
        env.settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # recording_space says what is wrong with it
    problems = [p for p in (recording_space(d, minimum) for d in directories) if p]
    if not problems:
        return {}
    sighting = _row(env, ctx)
    sighting.recording_status = FAILED
    sighting.recording_error = clip("no room to record: " + "; ".join(problems))
    env.session.commit()
    log_event(
        logger,
        "callback.recording_failed",
        level=logging.ERROR,
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        caller=sighting.caller_number or "withheld",
        status=FAILED,
        error=sighting.recording_error,
    )
    return {"sighting_id": sighting.id, "no_room": 1}


def recording_space_decision(env: CallEnv, ctx: Mapping) -> str:
    """ok: record; else put the caller through when that was not tried yet, or say 112."""
    if not ctx.get("no_room"):
        return "ok"
    return "transfer" if _transfer_untried(env, ctx) else "call_112"


def recording_outcome(env: CallEnv, ctx: Mapping) -> str:
    """saved: the thank-you; anything else is said honestly, then the centralist or 112."""
    status = ctx.get("recording")
    if status in (COMPLETE, "held"):  # held: Twilio has the whole recording
        return "saved"
    kind = "partial" if status == "truncated" else "failed"
    return f"{kind}_transfer" if _transfer_untried(env, ctx) else f"{kind}_112"


def _transfer_untried(env: CallEnv, ctx: Mapping) -> bool:
    return "transfer_result" not in ctx and _target(env, ctx) is not None


def _row(env: CallEnv, ctx: Mapping) -> Sighting:
    """This call's Sighting row: by the id in the flow's context, else by the provider's call
    id (a provider that reports the same call twice gets the first row back), else a new one
    (recording_status 'none', flushed so it has its id)."""
    session = env.session
    sighting = session.get(Sighting, ctx["sighting_id"]) if "sighting_id" in ctx else None
    if sighting is None and env.provider_call_id:
        sighting = session.scalars(
            select(Sighting)
            .where(Sighting.provider == env.provider, Sighting.provider_call_id == env.provider_call_id)
            .order_by(Sighting.id)
        ).first()
    if sighting is not None:
        return sighting
    caller = _caller(env)
    sighting = Sighting(
        action_id=None,
        control_room_id=ctx.get("room_id"),
        caller_number=caller.number or _raw_number(env.caller_number),
        participant_id=ctx.get("participant_id"),
        transferred=False,
        provider=env.provider or None,
        provider_call_id=env.provider_call_id,
        received_at=env.clock.now(),
        recording_status=NONE,
    )
    session.add(sighting)
    session.flush()
    return sighting


def _raw_number(raw: str | None) -> str | None:
    """A number that is not a valid public one (an internal extension) is kept as given;
    a withheld one ("anonymous", "unknown") is not a number."""
    raw = (raw or "").strip()
    return raw[:32] if any(ch.isdigit() for ch in raw) else None


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


def transfer_route(env: CallEnv, ctx: Mapping) -> str:
    """queue: the control room has a call queue; direct: put through to the target; no: nobody."""
    if _queue(env, ctx):
        return "queue"
    return "direct" if _target(env, ctx) else "no"


def _queue(env: CallEnv, ctx: Mapping) -> str | None:
    room_id = ctx.get("room_id")
    return room_queue(env.session, room_id) if isinstance(room_id, int) else None


def _own_centralist(env: CallEnv, ctx: Mapping) -> Operator | None:
    """The centralist who started the chosen action, when the room rings them first and they
    can take a call now: active, available (presence), with a desk of their own, and not
    talking to another caller of the line (the queue's connected rows say so)."""
    room = env.session.get(ControlRoom, ctx["room_id"]) if isinstance(ctx.get("room_id"), int) else None
    action = env.session.get(Action, ctx["action_id"]) if "action_id" in ctx else None
    if (
        room is None
        or not room.callback_own_centralist_first
        or action is None
        or action.started_by_id is None
    ):
        return None
    operator = env.session.get(Operator, action.started_by_id)
    if operator is None or not operator.active or not operator.available or not operator.transfer_target:
        return None
    talking = env.session.scalar(
        select(Sighting.id).where(
            Sighting.line_state == line_states.CONNECTED,
            Sighting.ended_at.is_(None),
            Sighting.answered_by == operator.transfer_target,
        )
    )
    return None if talking is not None else operator


def own_centralist_route(env: CallEnv, ctx: Mapping) -> str:
    """own: ring the action's own centralist first; queue: straight into the room's queue."""
    return "own" if _own_centralist(env, ctx) is not None else "queue"


def own_centralist_target(env: CallEnv, ctx: Mapping) -> str:
    operator = _own_centralist(env, ctx)
    if operator is None or not operator.transfer_target:
        raise FlowError("call-back flow: the action's centralist cannot take the call")
    return operator.transfer_target


def store_own_centralist_result(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """The own centralist answered (the row says connected, to them) or not: then the caller
    joins the queue, and the unanswered ring is only remembered on the row."""
    sighting = _row(env, ctx)
    status = "answered" if happened.answered else (happened.status or "failed")[:34]
    sighting.transfer_result = f"own:{status}"
    if happened.answered:
        action = env.session.get(Action, ctx["action_id"])
        operator = (
            env.session.get(Operator, action.started_by_id) if action and action.started_by_id else None
        )
        sighting.transferred = True
        desk = operator.transfer_target if operator is not None else None
        sighting.answered_by = desk[:120] if desk else None
        line_states.advance(sighting, line_states.CONNECTED, env.clock.now())
    env.session.commit()
    log_event(
        logger,
        "callback.own_centralist",
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        answered=bool(happened.answered),
        transfer_result=status,
    )
    return {"sighting_id": sighting.id}


def queue_name(env: CallEnv, ctx: Mapping) -> str:
    name = _queue(env, ctx)
    if not name:
        raise FlowError("call-back flow: the control room has no call queue")
    return name


def join_queue(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    """The caller joins the queue: the row says waiting (the console lists it) from now on."""
    sighting = _row(env, ctx)
    line_states.advance(sighting, line_states.WAITING, env.clock.now())
    env.session.commit()
    log_event(
        logger,
        "callback.queued",
        sighting_id=sighting.id,
        room_id=sighting.control_room_id,
        action_id=sighting.action_id,
        caller=sighting.caller_number or "withheld",
    )
    return {"sighting_id": sighting.id}


def queue_announcement(env: CallEnv, ctx: Mapping) -> list[Speech]:
    """ "You are number 3 in the queue; the expected wait is about 2 minutes." """
    sighting = _row(env, ctx)
    position = queue_position(env.session, sighting)
    out = [Speech(ivr_prompt_text("callback_queue_position", env.settings, position=position))]
    minutes = expected_wait_minutes(env.session, sighting.control_room_id, position, env.clock.now())
    if minutes == 1:
        out.append(Speech(ivr_prompt_text("callback_queue_expected_wait_minute", env.settings)))
    elif minutes is not None:
        out.append(Speech(ivr_prompt_text("callback_queue_expected_wait", env.settings, minutes=minutes)))
    return out


def store_queue_result(env: CallEnv, ctx: Mapping, happened: Input) -> dict:
    """How the wait ended, with how long it lasted. A caller a centralist took is put through
    (transferred); one who gave up is left waiting here and closed as missed by `close_call`."""
    sighting = _row(env, ctx)
    outcome = happened.queue_outcome or QueueOutcome.UNAVAILABLE
    now = env.clock.now()
    if happened.wait_s is not None:
        sighting.wait_s = round(happened.wait_s, 1)
    sighting.transfer_result = f"queue:{outcome.value}"[:40]
    if outcome is QueueOutcome.ANSWERED:
        sighting.transferred = True
        sighting.answered_by = (happened.agent or None) and happened.agent[:120]
        line_states.advance(sighting, line_states.CONNECTED, now)
    elif outcome is QueueOutcome.UNAVAILABLE:
        line_states.advance(sighting, line_states.IVR, now)
    env.session.commit()
    log_event(
        logger,
        "callback.queue_result",
        sighting_id=sighting.id,
        action_id=sighting.action_id,
        outcome=outcome.value,
        wait_s=sighting.wait_s,
        agent=sighting.answered_by or "",
    )
    update: dict = {"sighting_id": sighting.id}
    if outcome in (QueueOutcome.TIMEOUT, QueueOutcome.UNAVAILABLE):
        update["transfer_result"] = sighting.transfer_result
    return update


def start_recording(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    sighting = _row(env, ctx)
    line_states.advance(sighting, line_states.RECORDING, env.clock.now())
    env.session.commit()
    return {"sighting_id": sighting.id}


def close_call(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict:
    """The call is over (the flow hung up, or the caller did): the row ends connected,
    recorded or missed, with the wait it had. Committed before anything else happens."""
    if "sighting_id" not in ctx and not env.provider_call_id:
        return {}
    sighting = _row(env, ctx)
    line_states.close(sighting, env.clock.now())
    env.session.commit()
    log_ended(sighting, by="flow")
    return {"sighting_id": sighting.id}


HANDLERS: dict[str, Handler] = {
    "identify": identify,
    "action_count": action_count,
    "take_only_action": take_only_action,
    "action_name": action_name,
    "action_choice_list": action_choice_list,
    "action_choices": action_choices,
    "choose_action": choose_action,
    "store_sighting": store_sighting,
    "action_target": action_target,
    "room_known": room_known,
    "store_transfer_result": store_transfer_result,
    "check_recording_space": check_recording_space,
    "recording_space_decision": recording_space_decision,
    "recording_outcome": recording_outcome,
    "transfer_route": transfer_route,
    "queue_name": queue_name,
    "join_queue": join_queue,
    "queue_announcement": queue_announcement,
    "store_queue_result": store_queue_result,
    "own_centralist_route": own_centralist_route,
    "own_centralist_target": own_centralist_target,
    "store_own_centralist_result": store_own_centralist_result,
    "start_recording": start_recording,
    "close_call": close_call,
}


# The longest a caller waits in the queue before being offered the recording (Asterisk's
# Queue() timeout, Twilio's wait loop): a control room under load still hears every caller.
QUEUE_MAX_WAIT_S = 120
# How long the action's own centralist's desk rings before the caller joins the queue
# (ControlRoom.callback_own_centralist_first).
OWN_CENTRALIST_RING_S = 15


def _space_check(node_id: str, record: str) -> Branch:
    """Room to record? Then `record`; else put through (when not tried yet) or say 112."""
    return Branch(
        node_id,
        on_enter="check_recording_space",
        decide="recording_space_decision",
        branches={"ok": record, "transfer": "no_room_transfer", "call_112": "no_room_112"},
    )


def _rescue_transfer(node_id: str, prompts: tuple) -> Transfer:
    """Put the caller through after their report could not (all) be kept."""
    return Transfer(
        node_id,
        prompts=prompts,
        target="action_target",
        on_answered="end",
        on_failed="rescue_failed",
        timeout_s=30,
        on_result="store_transfer_result",
    )


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
            decide="transfer_route",
            branches={"queue": "own_first", "direct": "transfer_or_record", "no": "check_space_unreachable"},
        ),
        Branch(
            "own_first", decide="own_centralist_route", branches={"own": "own_centralist", "queue": "queue"}
        ),
        Transfer(
            "own_centralist",
            prompts=(Say("callback_transfer"),),
            target="own_centralist_target",
            on_answered="end",
            on_failed="queue",
            timeout_s=OWN_CENTRALIST_RING_S,
            on_result="store_own_centralist_result",
        ),
        Queue(
            "queue",
            on_enter="join_queue",
            prompts=(SayFrom("queue_announcement"), Say("callback_queue_hold")),
            hold_prompts=(Say("callback_queue_hold"),),
            queue="queue_name",
            on_answered="end",
            on_leave="check_space",
            on_failed="check_space_unreachable",
            max_wait_s=QUEUE_MAX_WAIT_S,
            leave_digit="1",
            on_result="store_queue_result",
        ),
        Menu(
            "transfer_or_record",
            prompts=(Say("callback_transfer_or_record"),),
            choices={"1": "check_space"},
            on_exhausted="transfer",
            timeout_s=4,
            retries=0,
        ),
        Transfer(
            "transfer",
            prompts=(),
            target="action_target",
            on_answered="end",
            on_failed="check_space_unreachable",
            timeout_s=30,
            on_result="store_transfer_result",
        ),
        _space_check("check_space", "record"),
        _space_check("check_space_unreachable", "record_unreachable"),
        Record(
            "record",
            on_enter="start_recording",
            prompts=(Say("callback_record"),),
            on_recording="store_sighting",
            next="after_record",
            max_s=120,
            beep=True,
            silence_s=4,
        ),
        Record(
            "record_unreachable",
            on_enter="start_recording",
            prompts=(Say("callback_unreachable_record"),),
            on_recording="store_sighting",
            next="after_record",
            max_s=120,
            beep=True,
            silence_s=4,
        ),
        Branch(
            "after_record",
            decide="recording_outcome",
            branches={
                "saved": "thanks",
                "partial_transfer": "partial_transfer",
                "partial_112": "partial_112",
                "failed_transfer": "failed_transfer",
                "failed_112": "failed_112",
            },
        ),
        Hangup("thanks", prompts=(Say("callback_thanks"), Say("callback_saved_bye"))),
        # Nothing below says "vastgelegd": the report was not (all) kept.
        _rescue_transfer("no_room_transfer", (Say("callback_cannot_record"), Say("callback_transfer"))),
        Hangup("no_room_112", prompts=(Say("callback_cannot_record"), Say("callback_room_unreachable"))),
        _rescue_transfer("partial_transfer", (Say("callback_recording_partial"), Say("callback_transfer"))),
        Hangup("partial_112", prompts=(Say("callback_recording_partial"), Say("callback_room_unreachable"))),
        _rescue_transfer("failed_transfer", (Say("callback_recording_failed"), Say("callback_transfer"))),
        Hangup("failed_112", prompts=(Say("callback_recording_failed"), Say("callback_room_unreachable"))),
        Hangup("rescue_failed", prompts=(Say("callback_room_unreachable"),)),
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
            on_failed="check_space_unreachable",
            timeout_s=30,
            on_result="store_transfer_result",
        ),
        Hangup("no_action_bye", prompts=(Say("callback_no_action"), Say("callback_goodbye"))),
        Hangup("goodbye", prompts=(Say("callback_goodbye"),)),
        Hangup("end"),
    ],
    handlers=HANDLERS,
    on_end="close_call",
)
