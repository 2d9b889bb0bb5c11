"""The outcome call (afloopbericht by voice): everyone reached hears how the action ended. An
update (vervolgbericht) of a running action is the same short call with the update's text.

    start ─ machine ─> wait for the beep ─> the outcome message ─> hang up
          └ person ──> the outcome message ─> "press 1 to hear it again" (a few seconds)
                         ├ 1 ─> "I repeat" + the message ─> the offer again
                         └ no key ─> goodbye

The message is composed from the action (its outcome, incident type, note and the control
room's call-back number) by `prompts.messages.compose_outcome`, exactly as the dialer composes
it for SMS, email and Twilio's inline calls. Every key pressed is stored on the delivery row,
as on an alert call. Context keys: delivery_id.
"""

from __future__ import annotations

from collections.abc import Mapping

from db.models import Action, Delivery, DeliveryKind
from deliveries.message_texts import update_message
from ivr.alert_flow import record_menu_choice
from ivr.flow import (
    AwaitMessageEnd,
    Branch,
    CallEnv,
    Flow,
    FlowError,
    Handler,
    Hangup,
    Menu,
    Play,
    Say,
    SayFrom,
)
from prompts.callback_number import callback_number_for
from prompts.errors import PromptError
from prompts.messages import compose_outcome


def _delivery(env: CallEnv, ctx: Mapping) -> Delivery:
    delivery_id = ctx.get("delivery_id")
    delivery = env.session.get(Delivery, delivery_id) if isinstance(delivery_id, int) else None
    if delivery is None:
        raise FlowError(f"outcome flow: unknown delivery {delivery_id!r}")
    if delivery.kind not in (DeliveryKind.OUTCOME, DeliveryKind.UPDATE):
        raise FlowError(f"outcome flow: delivery {delivery.id} is not an outcome or update delivery")
    return delivery


def answered_by(env: CallEnv, ctx: Mapping) -> str:
    """ "machine" or "human": the provider's verdict for this call, else the delivery row's."""
    verdict = (env.answered_by or _delivery(env, ctx).answered_by or "human").lower()
    return "machine" if verdict.startswith("machine") or verdict == "fax" else "human"


def outcome_text(env: CallEnv, ctx: Mapping) -> str:
    """The spoken outcome message (or update) of the delivery's action."""

    delivery = _delivery(env, ctx)
    action = env.session.get(Action, delivery.action_id) if delivery.action_id else None
    if action is not None and delivery.kind == DeliveryKind.UPDATE:
        number = callback_number_for(action.control_room, env.settings.callback_number)
        try:
            return update_message(action, delivery.revision, number).voice
        except (PromptError, ValueError) as exc:
            raise FlowError(f"outcome flow: action {action.id}: {exc}") from exc
    if action is None or action.outcome is None:
        raise FlowError(f"outcome flow: delivery {delivery.id} has no ended action to report")
    number = callback_number_for(action.control_room, env.settings.callback_number)
    try:
        return compose_outcome(
            action.outcome.value, action.incident_type.value, number, action.outcome_note or ""
        ).voice
    except PromptError as exc:
        raise FlowError(f"outcome flow: action {action.id}: {exc}") from exc


HANDLERS: dict[str, Handler] = {
    "answered_by": answered_by,
    "outcome_text": outcome_text,
    "record_menu_choice": record_menu_choice,
}

OUTCOME_FLOW = Flow.build(
    "outcome",
    start="start",
    nodes=[
        Branch("start", decide="answered_by", branches={"machine": "machine_wait", "human": "message"}),
        AwaitMessageEnd("machine_wait", next="machine_message", max_s=30),
        Play("machine_message", prompts=(SayFrom("outcome_text"),), next="end"),
        Play("message", prompts=(SayFrom("outcome_text"),), next="offer_repeat"),
        Menu(
            "offer_repeat",
            prompts=(Say("outcome_repeat_offer"),),
            choices={"1": "repeat"},
            on_exhausted="goodbye",
            on_input="record_menu_choice",
            timeout_s=5,
            retries=0,
        ),
        Play("repeat", prompts=(Say("repeat"), SayFrom("outcome_text")), next="offer_repeat"),
        Hangup("goodbye", prompts=(Say("goodbye"),)),
        Hangup("end"),
    ],
    handlers=HANDLERS,
)
