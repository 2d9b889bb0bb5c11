"""The outbound alert flow: what a participant hears when the Burgernet call is answered.

    start ─ answered by a machine ─> wait for the beep ─> the alert text ─> hang up
          └ answered by a person ──> the alert text ─> menu
    menu: 1 hear it again · 2 be put through to the control room now · 3 I will look out
          9 stop receiving Burgernet calls (asks for confirmation: 1 yes, any other key or
          silence: "you stay registered", back to the menu)

Context: `{"delivery_id": <Delivery.id>}`. Every digit chosen is appended to
`Delivery.menu_choices` (e.g. "1923" = repeat, opt out, changed mind, will look out); choice 2 sets
`transfer_requested`, 3 `acknowledged`, a confirmed 9 `opt_out_requested` and the participant's
status `opted_out` (audited). Each is committed at once, so a dropped call keeps it.

Entering the menu (a person) or hanging up after the message (a machine) means the alert text
was played to its end: `message_heard` records that on the delivery for this attempt
(`deliveries.events.record_message_heard`), so a call the PBX or the IVR cuts later still
counts as reached, and one cut before it is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import func, update

from config.logging import log_event
from db.audit import record_audit
from db.models import Action, Delivery, DeliveryEvent, Participant, ParticipantStatus
from deliveries.events import record_message_heard
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
    Transfer,
)
from ivr.routing import transfer_target_for_action

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
    """ "machine" or "human": the provider's verdict for this call, else the delivery row's."""
    verdict = (env.answered_by or _delivery(env, ctx).answered_by or "human").lower()
    return "machine" if verdict.startswith("machine") or verdict == "fax" else "human"


def alert_text(env: CallEnv, ctx: Mapping) -> str:
    """The action's voice text, frozen when the action started."""
    action = _action(env, _delivery(env, ctx))
    if not action.voice_text:
        raise FlowError(f"alert flow: action {action.id} has no frozen voice text")
    return action.voice_text


def message_heard(env: CallEnv, ctx: Mapping, _happened: Input | None) -> None:
    """The alert text was played to its end on this call (committed at once)."""
    delivery = _delivery(env, ctx)
    if record_message_heard(env.session, delivery, env.clock):
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
    """A confirmed 9: no more Burgernet calls for this participant."""
    delivery = _delivery(env, ctx)
    delivery.opt_out_requested = True
    participant = env.session.get(Participant, delivery.participant_id) if delivery.participant_id else None
    if participant is not None and participant.status is not ParticipantStatus.OPTED_OUT:
        previous = participant.status.value
        participant.status = ParticipantStatus.OPTED_OUT
        record_audit(
            env.session,
            "participant.opted_out",
            actor=f"participant:{participant.id}",
            target_type="participant",
            target_id=participant.id,
            via="ivr",
            delivery_id=delivery.id,
            previous_status=previous,
        )
    env.session.commit()
    log_event(logger, "ivr.alert.opted_out", delivery_id=delivery.id, participant_id=delivery.participant_id)


HANDLERS: dict[str, Handler] = {
    "answered_by": answered_by,
    "message_heard": message_heard,
    "alert_text": alert_text,
    "record_menu_choice": record_menu_choice,
    "acknowledge": acknowledge,
    "request_transfer": request_transfer,
    "control_room_target": control_room_target,
    "record_transfer_result": record_transfer_result,
    "opt_out": opt_out,
}

# --- the flow ---------------------------------------------------------------------------

OTHER_DIGITS = {d: "opt_out_cancelled" for d in "023456789*#"}

ALERT_FLOW = Flow.build(
    "alert",
    start="start",
    nodes=[
        Branch("start", decide="answered_by", branches={"machine": "machine_wait", "human": "alert"}),
        AwaitMessageEnd("machine_wait", next="machine_message", max_s=30),
        Play("machine_message", prompts=(SayFrom("alert_text"), Say("machine_callback")), next="end"),
        Play("alert", prompts=(SayFrom("alert_text"),), next="menu"),
        Menu(
            "menu",
            on_enter="message_heard",
            prompts=(Say("alert_menu"),),
            choices={"1": "repeat", "2": "transfer", "3": "acknowledged", "9": "opt_out_confirm"},
            on_exhausted="goodbye",
            timeout_s=6,
            retries=2,
            invalid_prompts=(Say("invalid"),),
            timeout_prompts=(Say("no_input"),),
            on_input="record_menu_choice",
        ),
        Play("repeat", prompts=(Say("repeat"), SayFrom("alert_text")), next="menu"),
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
        Play("transfer_failed", prompts=(Say("transfer_failed"),), next="menu"),
        Hangup("acknowledged", on_enter="acknowledge", prompts=(Say("confirm_thanks"), Say("goodbye"))),
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
        Hangup("goodbye", prompts=(Say("goodbye"),)),
        # Reached after the machine's message or a transfer the control room answered.
        Hangup("end", on_enter="message_heard"),
    ],
    handlers=HANDLERS,
)
