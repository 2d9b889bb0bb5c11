"""The texts of SMS and email deliveries, and of the update and outcome messages on every channel.

Alert texts were frozen on the action when it started (voice_text, sms_text), and again when an
update changed them (actions.change); the email of an alert, every update (vervolgbericht,
from the action's revision the delivery belongs to) and every outcome message (afloopbericht)
are composed by prompts.messages from the same inputs, so every participant gets the same words.
Every email carries the recipient's own unsubscribe link: a signed link to the self-service
opt-out (web/selfservice.py) that works without logging in and expires after UNSUBSCRIBE_DAYS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from config.clock import Clock
from config.settings import Settings
from db.models import Action, ActionRevision, Channel, Delivery, DeliveryKind, RevisionKind
from deliveries.message_sender import OutgoingMessage
from prompts.callback_number import callback_number_for, sender_for
from prompts.messages import NO_SENDER, AlertMessage, Sender, compose_alert, compose_outcome, compose_update
from prompts.place import area_of

# Long enough for a message read days later, short enough that an old mail is not a key forever.
UNSUBSCRIBE_DAYS = 60
UNSUBSCRIBE_PATH = "/mijn/afmelden/"
_PURPOSE = b"burgernet unsubscribe link v1"


# --- the signed unsubscribe link ----------------------------------------------------------


def _signature(secret_key: str, participant_id: int, expires_day: int) -> str:
    key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()  # a key for this use only
    mac = hmac.new(key, f"{participant_id}.{expires_day}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()  # 144 bits, 24 characters


def unsubscribe_token(
    secret_key: str, participant_id: int, now: datetime, days: int = UNSUBSCRIBE_DAYS
) -> str:
    """`<participant>.<expiry day>.<HMAC>`: names the participant and when the link expires
    (days since the epoch), signed with a key derived from the application secret."""
    if not secret_key:
        raise ValueError("an unsubscribe link needs the application secret")
    expires_day = (now + timedelta(days=days)).date().toordinal()
    return f"{participant_id}.{expires_day}.{_signature(secret_key, participant_id, expires_day)}"


def read_unsubscribe_token(secret_key: str, token: str, now: datetime) -> int | None:
    """The participant a genuine, unexpired token names; None for anything else."""
    parts = token.split(".")
    if not secret_key or len(parts) != 3 or len(token) > 80:
        return None
    participant, expires, signature = parts
    if not (participant.isascii() and participant.isdigit() and expires.isascii() and expires.isdigit()):
        return None
    if len(participant) > 18 or len(expires) > 7:
        return None
    participant_id, expires_day = int(participant), int(expires)
    if not hmac.compare_digest(signature, _signature(secret_key, participant_id, expires_day)):
        return None
    if now.date().toordinal() > expires_day:
        return None
    return participant_id


def unsubscribe_url(settings: Settings, secret_key: str, participant_id: int, now: datetime) -> str:
    base = settings.portal.public_base_url.rstrip("/")
    return base + UNSUBSCRIBE_PATH + unsubscribe_token(secret_key, participant_id, now)


def app_secret(settings: Settings) -> str:
    """The application secret as create_app() has it: settings.secret_key, else the random one
    kept in the instance folder, made by whichever process needs it first (so a dialer beside
    the web console signs links the console accepts). A dialer on another machine needs
    BURGERNET_SECRET_KEY set to the console's."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.instance_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# --- composing per action and per recipient -------------------------------------------------


def update_message(
    action: Action, revision_number: int, callback_number: str, sender: Sender = NO_SENDER
) -> AlertMessage:
    """The update (vervolgbericht) of an action's revision, for those the alert reached before
    it: what the revision added to the description, and its free text if it changed.

    ValueError when the action has no such update revision."""
    revision = next(
        (r for r in action.revisions if r.number == revision_number and r.kind == RevisionKind.UPDATE), None
    )
    if revision is None:
        raise ValueError(f"action {action.id} has no update {revision_number}")
    return _update_of(action, revision, callback_number, sender)


def _update_of(
    action: Action, revision: ActionRevision, callback_number: str, sender: Sender
) -> AlertMessage:
    before, after = revision.before or {}, revision.after or {}
    return compose_update(
        action.incident_type.value,
        dict(before.get("description") or {}),
        dict(after.get("description") or {}),
        str(after.get("free_text") or ""),
        callback_number,
        area=area_of(action.location_label or ""),
        sender=sender,
        free_text_before=str(before.get("free_text") or ""),
    )


class MessageComposer:
    """Composes per action once and remembers it for the rest of the wave."""

    def __init__(self, settings: Settings, clock: Clock, secret_key: str | None = None):
        self.settings = settings
        self.clock = clock
        self.callback_number = settings.callback_number
        self.secret_key = app_secret(settings) if secret_key is None else secret_key
        # Alerts by action and its texts (an update or a moved circle changes them).
        self._alerts: dict[tuple[int, str | None], AlertMessage] = {}
        self._outcomes: dict[int, AlertMessage] = {}
        self._updates: dict[tuple[int, int], AlertMessage] = {}

    def composed(self, action: Action, kind: DeliveryKind, revision: int = 0) -> AlertMessage:
        number = callback_number_for(action.control_room, self.callback_number)
        sender = sender_for(action.control_room, self.settings)
        if kind == DeliveryKind.UPDATE:
            key = (action.id, revision)
            if key not in self._updates:
                self._updates[key] = update_message(action, revision, number, sender)
            return self._updates[key]
        if kind == DeliveryKind.OUTCOME:
            if action.id not in self._outcomes:
                if action.outcome is None:
                    raise ValueError(f"action {action.id} has no outcome to report")
                self._outcomes[action.id] = compose_outcome(
                    action.outcome.value,
                    action.incident_type.value,
                    number,
                    action.outcome_note or "",
                    sender=sender,
                )
            return self._outcomes[action.id]
        alert_key = (action.id, action.sms_text)
        if alert_key not in self._alerts:
            self._alerts[alert_key] = compose_alert(
                action.incident_type.value,
                action.description or {},
                action.free_text or "",
                number,
                area=area_of(action.location_label or ""),
                sender=sender,
            )
        return self._alerts[alert_key]

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
                else self.composed(action, kind, delivery.revision).sms
            )
            return OutgoingMessage(channel="sms", to=to, text=text, delivery_id=delivery.id)
        if channel == Channel.EMAIL:
            if delivery.participant_id is None:
                raise ValueError(f"delivery {delivery.id} has no participant to unsubscribe")
            composed = self.composed(action, kind, delivery.revision)
            text, html = composed.email_for(
                unsubscribe_url(self.settings, self.secret_key, delivery.participant_id, self.clock.now())
            )
            return OutgoingMessage(
                channel="email",
                to=to,
                text=text,
                subject=composed.email_subject,
                html=html,
                delivery_id=delivery.id,
            )
        raise ValueError(f"delivery {delivery.id} is a {channel.value} delivery, not a message")

    def outcome_voice_text(self, action: Action | None) -> str:
        if action is None:
            raise ValueError("an outcome call belongs to no action")
        return self.composed(action, DeliveryKind.OUTCOME).voice

    def follow_up_voice_text(self, action: Action | None, kind: DeliveryKind, revision: int = 0) -> str:
        """The spoken outcome message or update of a follow-up call (not the alert)."""
        if action is None:
            raise ValueError(f"an {kind.value} call belongs to no action")
        return self.composed(action, kind, revision).voice
