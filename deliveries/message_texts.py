"""The texts of SMS and email deliveries, and of the outcome message on every channel.

Alert texts were frozen on the action when it started (voice_text, sms_text); the email of an
alert and every outcome message (afloopbericht) are composed by prompts.messages from the same
inputs, so every participant gets the same words.
"""

from __future__ import annotations

from db.models import Action, Channel, Delivery, DeliveryKind
from deliveries.message_sender import OutgoingMessage
from prompts.callback_number import callback_number_for
from prompts.messages import compose_alert, compose_outcome


class MessageComposer:
    """Composes per action once and remembers it for the rest of the wave."""

    def __init__(self, callback_number: str):
        self.callback_number = callback_number
        self._alerts: dict[int, object] = {}
        self._outcomes: dict[int, object] = {}

    def composed(self, action: Action, kind: DeliveryKind):
        number = callback_number_for(action.control_room, self.callback_number)
        if kind == DeliveryKind.OUTCOME:
            if action.id not in self._outcomes:
                if action.outcome is None:
                    raise ValueError(f"action {action.id} has no outcome to report")
                self._outcomes[action.id] = compose_outcome(
                    action.outcome.value, action.incident_type.value, number, action.outcome_note or ""
                )
            return self._outcomes[action.id]
        if action.id not in self._alerts:
            self._alerts[action.id] = compose_alert(
                action.incident_type.value, action.description or {}, action.free_text or "", number
            )
        return self._alerts[action.id]

    def message(self, delivery: Delivery, action: Action | None) -> OutgoingMessage:
        """The SMS or email of a delivery; ValueError when it cannot be composed (never retried)."""
        if action is None:
            raise ValueError(f"delivery {delivery.id} belongs to no action")
        if not delivery.target:
            raise ValueError(f"delivery {delivery.id} has no address left to send to")
        to = delivery.target
        kind = DeliveryKind(delivery.kind)
        channel = Channel(delivery.channel)
        if channel == Channel.SMS:
            text = (
                action.sms_text
                if kind == DeliveryKind.ALERT and action.sms_text
                else self.composed(action, kind).sms
            )
            return OutgoingMessage(channel="sms", to=to, text=text, delivery_id=delivery.id)
        if channel == Channel.EMAIL:
            composed = self.composed(action, kind)
            return OutgoingMessage(
                channel="email",
                to=to,
                text=composed.email_text,
                subject=composed.email_subject,
                html=composed.email_html,
                delivery_id=delivery.id,
            )
        raise ValueError(f"delivery {delivery.id} is a {channel.value} delivery, not a message")

    def outcome_voice_text(self, action: Action | None) -> str:
        if action is None:
            raise ValueError("an outcome call belongs to no action")
        return self.composed(action, DeliveryKind.OUTCOME).voice
