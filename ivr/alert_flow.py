"""The outbound alert flow: what a participant hears when the Burgernet call is answered.

    start ─ a key pressed during detection ──> that key's node (below)
          ├ answered by a machine ─> wait for the beep ─> the alert text ─> hang up
          └ answered by a person ──> the alert text ─> menu
    menu: 1 hear it again · 2 be put through to the control room now · 3 I will look out
          9 stop receiving Burgernet calls on this number (asks for confirmation: 1 yes, any
          other key or silence: "you stay registered", back to the menu)

The menu's keys act at once while the alert text plays too (a 2 in the middle of the message
puts the participant through without waiting for the menu), and a key pressed while
answering-machine detection listened (Asterisk cannot pass it to the flow; the dialer stored it
as a `call.dtmf` event of this attempt) acts as soon as the flow begins. A key also means a
person answered, whatever detection said.

Context: `{"delivery_id": <Delivery.id>}`. Every digit chosen is appended to
`Delivery.menu_choices` (e.g. "1923" = repeat, opt out, changed mind, will look out); choice 2 sets
`transfer_requested`, 3 `acknowledged`, a confirmed 9 `opt_out_requested` and takes the called
number out of Burgernet's calls (its verification is withdrawn, audited; the participant's
other numbers and their email stay; leaving Burgernet entirely is done in self-service or by
SMS STOP). Each is committed at once, so a dropped call keeps it.

What the call played (`deliveries.listening`): entering the alert text stamps
`message_started_at`; its end sets `heard` = all with the seconds it took; a key that acts
before its end sets part (or none within its first second). A call that ends before either
is settled by the dialer from the hang-up. Entering the menu, hanging up after the machine's
message, or a transfer the control room answered also records `message_heard`
(`deliveries.events.record_message_heard`), so a call the PBX or the IVR cuts later still
counts as reached, and one cut before it is retried. The flow's own goodbye records that the
IVR ended the call (`hangup_by`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import func, select, update

from config.logging import log_event
from db.audit import record_audit
from db.models import Action, Delivery, DeliveryEvent, HangupBy, MessageHeard, PhoneNumber
from deliveries.events import record_message_heard
from deliveries.listening import message_interrupted, message_played_to_end, message_started
from ivr.flow import (
    AwaitMessageEnd,
    Branch,
    CallEnv,
    Flow,
    FlowError,
    Handler,
    Hangup,
    Input,
    Menu,
    Play,
    Say,
    SayFrom,
    Speech,
    Transfer,
)
from ivr.prompt_texts import prompt_text
from ivr.routing import transfer_target_for_action
from prompts.callback_number import callback_number_for, same_number
from prompts.ivr_prompts import ivr_prompt_text

logger = logging.getLogger(__name__)

MENU_CHOICES_MAX = 60  # length of Delivery.menu_choices


def _delivery(env: CallEnv, ctx: Mapping) -> Delivery:
    delivery_id = ctx.get("delivery_id")
    delivery = env.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
    if delivery is None:
        raise FlowError(f"alert flow: unknown delivery {delivery_id!r}")
    return delivery


def _action(env: CallEnv, delivery: Delivery) -> Action:
    action = env.session.get(Action, delivery.action_id) if delivery.action_id else None
    if action is None:
        raise FlowError(f"alert flow: delivery {delivery.id} has no action")
    return action


# --- handlers ---------------------------------------------------------------------------


def answered_by(env: CallEnv, ctx: Mapping) -> str:
    """A key pressed during detection ("key1".."key9"), else "machine" or "human": the
    provider's verdict for this call, else the delivery row's."""
    early = ctx.get("early_key")
    if isinstance(early, str) and early in MENU_KEYS:
        return f"key{early}"
    verdict = (env.answered_by or _delivery(env, ctx).answered_by or "human").lower()
    return "machine" if verdict.startswith("machine") or verdict == "fax" else "human"


def early_key(env: CallEnv, ctx: Mapping, _happened: Input | None) -> dict | None:
    """The first menu key the participant pressed before the flow began (during detection),
    as the dialer stored it for this attempt; stored as a menu choice like any other."""
    delivery = _delivery(env, ctx)
    if not env.provider_call_id:  # keys of this very call only (a walk without a call has none)
        return None
    details = env.session.scalars(
        select(DeliveryEvent.detail)
        .where(DeliveryEvent.delivery_id == delivery.id, DeliveryEvent.event == "call.dtmf")
        .order_by(DeliveryEvent.id)
    )
    for detail in details:
        detail = detail or {}
        if detail.get("attempt") not in (None, delivery.attempts):
            continue
        if detail.get("provider_id") != env.provider_call_id:
            continue
        digit = str(detail.get("digits") or "")
        if digit in MENU_KEYS:
            record_menu_choice(env, ctx, Input.digit(digit))
            log_event(logger, "ivr.alert.early_key", delivery_id=delivery.id, digit=digit)
            return {"early_key": digit}
    return None


def _naming_the_room_number(key: str):
    """A fixed prompt that names the call-back number, with the number of the action's control
    room (as the alert text itself does): the fixed prompt (rendered ahead of time) when that
    is the platform's number, else the same words with the room's number."""

    def speech(env: CallEnv, ctx: Mapping) -> tuple[Speech, ...]:
        room = _action(env, _delivery(env, ctx)).control_room
        number = callback_number_for(room, env.settings.callback_number)
        if same_number(number, env.settings.callback_number):
            return (Speech(prompt_text(key, env.settings), key),)
        return (Speech(ivr_prompt_text(key, env.settings, callback_number=number)),)

    return speech


def alert_text(env: CallEnv, ctx: Mapping) -> str:
    """The action's voice text, frozen when the action started."""
    action = _action(env, _delivery(env, ctx))
    if not action.voice_text:
        raise FlowError(f"alert flow: action {action.id} has no frozen voice text")
    return action.voice_text


def start_message(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """The alert text begins to play (committed at once)."""
    delivery = _delivery(env, ctx)
    if delivery.message_started_at is None:
        message_started(delivery, env.clock.now())
        env.session.commit()


def message_heard(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """The alert text was played to its end on this call (committed at once)."""
    delivery = _delivery(env, ctx)
    if delivery.heard is not MessageHeard.ALL:
        message_played_to_end(delivery, env.clock.now())
    record_message_heard(env.session, delivery, env.clock)
    env.session.commit()


def machine_message_left(env: CallEnv, ctx: Mapping, happened: Input | None) -> None:
    """The machine's message was left to its end; the IVR hangs up."""
    message_heard(env, ctx, happened)
    ivr_hangs_up(env, ctx, happened)


def put_through(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """The control room answered the participant: reached, whatever part of the message
    played (a cut later is no reason to call again)."""
    delivery = _delivery(env, ctx)
    if record_message_heard(env.session, delivery, env.clock):
        env.session.commit()


def key_during_message(env: CallEnv, ctx: Mapping, happened: Input) -> None:
    """A menu key acted while the alert text played: stored like a menu choice; the message
    counts as heard in part (unless it was heard whole before)."""
    delivery = _delivery(env, ctx)
    message_interrupted(delivery, env.clock.now())
    env.session.commit()
    record_menu_choice(env, ctx, happened)


def ivr_hangs_up(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """The flow says goodbye and ends the call itself."""
    delivery = _delivery(env, ctx)
    if delivery.hangup_by is None:
        delivery.hangup_by = HangupBy.IVR
        env.session.commit()


def record_menu_choice(env: CallEnv, ctx: Mapping, happened: Input) -> None:
    """Append the digit in one UPDATE (no lost update when two requests race); the first
    60 digits of a call are kept."""
    delivery = _delivery(env, ctx)
    env.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            func.length(func.coalesce(Delivery.menu_choices, "")) + len(happened.digits) <= MENU_CHOICES_MAX,
        )
        .values(menu_choices=func.coalesce(Delivery.menu_choices, "") + happened.digits)
        .execution_options(synchronize_session="fetch")
    )
    env.session.commit()


def acknowledge(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    delivery = _delivery(env, ctx)
    delivery.acknowledged = True
    delivery.hangup_by = delivery.hangup_by or HangupBy.IVR
    env.session.commit()
    log_event(logger, "ivr.alert.acknowledged", delivery_id=delivery.id)


def request_transfer(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    delivery = _delivery(env, ctx)
    delivery.transfer_requested = True
    env.session.commit()


def control_room_target(env: CallEnv, ctx: Mapping) -> str:
    return transfer_target_for_action(env.session, _action(env, _delivery(env, ctx)))


def record_transfer_result(env: CallEnv, ctx: Mapping, happened: Input) -> None:
    delivery = _delivery(env, ctx)
    env.session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=env.clock.now(),
            event="ivr_transfer",
            detail={"answered": happened.answered, "status": happened.status},
        )
    )
    env.session.commit()
    log_event(
        logger,
        "ivr.alert.transfer",
        delivery_id=delivery.id,
        answered=happened.answered,
        status=happened.status,
    )


def opt_out(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """A confirmed 9: no more Burgernet calls on the number that was called. Its verification
    is withdrawn (the selection reaches verified numbers only; verifying it again in
    self-service brings it back); the participant's other numbers and email stay."""
    delivery = _delivery(env, ctx)
    delivery.opt_out_requested = True
    delivery.hangup_by = delivery.hangup_by or HangupBy.IVR
    phones: list[PhoneNumber] = []
    if delivery.participant_id is not None and delivery.target:
        phones = list(
            env.session.scalars(
                select(PhoneNumber).where(
                    PhoneNumber.participant_id == delivery.participant_id,
                    PhoneNumber.e164 == delivery.target,
                    PhoneNumber.verified.is_(True),
                )
            )
        )
    for phone in phones:
        phone.verified = False
        phone.verified_at = None
        record_audit(
            env.session,
            "participant.phone_opted_out",
            actor=f"participant:{delivery.participant_id}",
            target_type="phone_number",
            target_id=phone.id,
            via="ivr",
            delivery_id=delivery.id,
        )
    env.session.commit()
    log_event(
        logger,
        "ivr.alert.number_opted_out",
        delivery_id=delivery.id,
        participant_id=delivery.participant_id,
        numbers=len(phones),
    )


HANDLERS: dict[str, Handler] = {
    "answered_by": answered_by,
    "early_key": early_key,
    "start_message": start_message,
    "message_heard": message_heard,
    "machine_message_left": machine_message_left,
    "put_through": put_through,
    "key_during_message": key_during_message,
    "ivr_hangs_up": ivr_hangs_up,
    "alert_text": alert_text,
    "confirm_thanks_text": _naming_the_room_number("confirm_thanks"),
    "transfer_failed_text": _naming_the_room_number("transfer_failed"),
    "machine_callback_text": _naming_the_room_number("machine_callback"),
    "record_menu_choice": record_menu_choice,
    "acknowledge": acknowledge,
    "request_transfer": request_transfer,
    "control_room_target": control_room_target,
    "record_transfer_result": record_transfer_result,
    "opt_out": opt_out,
}

# --- the flow ---------------------------------------------------------------------------

# The menu's keys, honoured in the menu, while the alert text plays and when pressed before.
MENU_KEYS = {"1": "repeat", "2": "transfer", "3": "acknowledged", "9": "opt_out_confirm"}
OTHER_DIGITS = {d: "opt_out_cancelled" for d in "023456789*#"}

ALERT_FLOW = Flow.build(
    "alert",
    start="start",
    nodes=[
        Branch(
            "start",
            on_enter="early_key",
            decide="answered_by",
            branches={
                "machine": "machine_wait",
                "human": "alert",
                # A 1 before the message: the message (nothing to repeat yet).
                **{f"key{d}": ("alert" if d == "1" else node) for d, node in MENU_KEYS.items()},
            },
        ),
        AwaitMessageEnd("machine_wait", next="machine_message", max_s=30),
        # A person taken for a machine may still press a key.
        Play(
            "machine_message",
            on_enter="start_message",
            prompts=(SayFrom("alert_text"), SayFrom("machine_callback_text")),
            next="machine_end",
            keys=MENU_KEYS,
            on_key="key_during_message",
        ),
        Play(
            "alert",
            on_enter="start_message",
            prompts=(SayFrom("alert_text"),),
            next="menu",
            keys=MENU_KEYS,
            on_key="key_during_message",
        ),
        Menu(
            "menu",
            on_enter="message_heard",
            prompts=(Say("alert_menu"),),
            choices=MENU_KEYS,
            on_exhausted="goodbye",
            timeout_s=6,
            retries=2,
            invalid_prompts=(Say("invalid"),),
            timeout_prompts=(Say("no_input"),),
            on_input="record_menu_choice",
        ),
        Play(
            "repeat",
            prompts=(Say("repeat"), SayFrom("alert_text")),
            next="menu",
            keys=MENU_KEYS,
            on_key="record_menu_choice",
        ),
        Transfer(
            "transfer",
            on_enter="request_transfer",
            prompts=(Say("transfer"),),
            target="control_room_target",
            on_answered="end",
            on_failed="transfer_failed",
            timeout_s=30,
            on_result="record_transfer_result",
        ),
        Play("transfer_failed", prompts=(SayFrom("transfer_failed_text"),), next="menu"),
        Hangup(
            "acknowledged",
            on_enter="acknowledge",
            prompts=(SayFrom("confirm_thanks_text"), Say("goodbye")),
        ),
        Menu(
            "opt_out_confirm",
            prompts=(Say("opt_out_confirm"),),
            choices={"1": "opted_out", **OTHER_DIGITS},
            on_exhausted="opt_out_cancelled",
            timeout_s=6,
            retries=0,
            on_input="record_menu_choice",
        ),
        Play("opt_out_cancelled", prompts=(Say("opt_out_cancelled"),), next="menu"),
        Hangup("opted_out", on_enter="opt_out", prompts=(Say("opted_out"), Say("goodbye"))),
        Hangup("goodbye", on_enter="ivr_hangs_up", prompts=(Say("goodbye"),)),
        # After the machine's message.
        Hangup("machine_end", on_enter="machine_message_left"),
        # After a transfer the control room answered: the conversation has ended.
        Hangup("end", on_enter="put_through"),
    ],
    handlers=HANDLERS,
)
