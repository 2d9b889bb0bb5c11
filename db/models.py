"""The data model. Read it like the schema.

Enumerations are stored as short strings with a CHECK constraint (no native PostgreSQL enums),
so adding a value later is a small migration on both databases.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from config.clock import utcnow
from db.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- enumerations -------------------------------------------------------------------------


class ParticipantStatus(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    OPTED_OUT = "opted_out"


class Channel(str, enum.Enum):
    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"


class AddressKind(str, enum.Enum):
    HOME = "home"
    WORK = "work"


class GeocodeStatus(str, enum.Enum):
    OK = "ok"
    PENDING = "pending"
    FAILED = "failed"


class PhoneKind(str, enum.Enum):
    LANDLINE = "landline"
    MOBILE = "mobile"


class Role(str, enum.Enum):
    """Ordered: each role may do what the roles before it may."""

    CENTRALIST = "centralist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def includes(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)


class IncidentType(str, enum.Enum):
    SUSPECT = "suspect"
    MISSING_PERSON = "missing_person"
    MISSING_CHILD = "missing_child"
    VEHICLE = "vehicle"
    OTHER = "other"


class ActionStatus(str, enum.Enum):
    DRAFT = "draft"
    RUNNING = "running"
    ENDED = "ended"


class Outcome(str, enum.Enum):
    ARRESTED = "arrested"
    FOUND = "found"
    VEHICLE_FOUND = "vehicle_found"
    NO_RESULT = "no_result"
    OTHER = "other"


class DeliveryKind(str, enum.Enum):
    ALERT = "alert"
    OUTCOME = "outcome"  # the afloopbericht: the outcome message after an action ends
    UPDATE = "update"  # the vervolgbericht: a short update for those already reached
    VERIFICATION = "verification"


class MessageHeard(str, enum.Enum):
    """How much of the alert message an answered call played to the participant."""

    NONE = "none"  # answered, gone before the message (or within its first second)
    PART = "part"  # part of it: hung up, or a key acted, before its end
    ALL = "all"  # to its end


class HangupBy(str, enum.Enum):
    """Who ended a call."""

    PARTICIPANT = "participant"  # hung up, was busy or refused the call
    IVR = "ivr"  # the platform: the flow's goodbye, the fallback, our dial timeout
    NETWORK = "network"  # the PBX, the trunk or the provider (a cut, a failure)


class DeliveryState(str, enum.Enum):
    """States of one delivery; the allowed transitions live in deliveries/states.py."""

    QUEUED = "queued"
    HELD = "held"  # held back (quiet hours); reported, not lost
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    # An answering machine picked up: the message is being left (the call holds its channel).
    LEAVING_MESSAGE = "leaving_message"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"  # the message was left on an answering machine
    CANCELLED = "cancelled"
    OPTED_OUT = "opted_out"
    SENDING = "sending"  # SMS/email claimed by a dialer worker, being handed to the provider
    SENT = "sent"  # SMS/email handed to the provider
    DELIVERED = "delivered"  # SMS/email delivery confirmed


# --- control room and operators -----------------------------------------------------------


class ControlRoom(Timestamped, Base):
    """A meldkamer: where actions are started and sightings are put through to."""

    __tablename__ = "control_room"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str] = mapped_column(String(120))
    # Phone number (E.164) or SIP target that reaches the centralists on duty.
    transfer_target: Mapped[str] = mapped_column(String(200))
    callback_number: Mapped[str | None] = mapped_column(String(32))
    # The call queue callers on the call-back number wait in (Asterisk app_queue name, Twilio
    # queue name); null: they are put through to the transfer target directly.
    callback_queue: Mapped[str | None] = mapped_column(String(80))
    # With a queue: a caller about an action rings its own centralist's desk first (when that
    # centralist is available and not talking to another caller), then joins the queue.
    callback_own_centralist_first: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Local-time window without voice calls; null means the global setting applies.
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))

    operators: Mapped[list[Operator]] = relationship(back_populates="control_room")


class Operator(Timestamped, Base):
    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    control_room_id: Mapped[int] = mapped_column(ForeignKey("control_room.id"))
    # Direct line or SIP target of this centralist; the control room's target is the fallback.
    transfer_target: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Presence: an unavailable (busy) centralist's phone is paused in the call-back queue.
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Hash of the API token for the control-room system (JSON API); null means no API access.
    api_token_hash: Mapped[str | None] = mapped_column(String(255))
    # Written into the session at log-in and compared on every request: log-out, deactivation
    # and a password reset raise it, which ends every copy of every session of this operator.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    control_room: Mapped[ControlRoom] = relationship(back_populates="operators")


class Trunk(Timestamped, Base):
    """A route out: a PBX trunk or a provider account, with its limits."""

    __tablename__ = "trunk"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    backend: Mapped[str] = mapped_column(String(20))  # simulator | asterisk | twilio
    max_channels: Mapped[int] = mapped_column(Integer)
    cps: Mapped[float] = mapped_column(Float)
    # Optional concurrent-call caps per number prefix, e.g. {"+3115": 40}.
    prefix_caps: Mapped[dict] = mapped_column(JSON, default=dict)
    control_room_id: Mapped[int | None] = mapped_column(ForeignKey("control_room.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The trunk's calls-per-second budget, shared by every dialer process on it: a token bucket
    # kept in this row and refilled from `tokens_at` under a row lock (dialer.pacing).
    tokens: Mapped[float | None] = mapped_column(Float)
    tokens_at: Mapped[datetime | None]


# --- participants -------------------------------------------------------------------------


class Participant(Timestamped, Base):
    __tablename__ = "participant"
    __table_args__ = (CheckConstraint("birth_year >= 1900", name="birth_year_plausible"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key from an import file or sign-up, so re-importing changes nothing.
    external_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Preferred channels in order, e.g. ["voice", "sms"].
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ParticipantStatus] = mapped_column(
        str_enum(ParticipantStatus, "participant_status"), default=ParticipantStatus.ACTIVE
    )
    paused_until: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(20), default="import")
    consent_at: Mapped[datetime | None]

    addresses: Mapped[list[Address]] = relationship(
        back_populates="participant", cascade="all, delete-orphan"
    )
    phones: Mapped[list[PhoneNumber]] = relationship(
        back_populates="participant", cascade="all, delete-orphan"
    )


class Address(Timestamped, Base):
    __tablename__ = "address"
    __table_args__ = (Index("ix_address_lat_lon", "lat", "lon"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AddressKind] = mapped_column(str_enum(AddressKind, "address_kind"))
    postcode: Mapped[str] = mapped_column(String(6))  # normalised: "2611AB"
    house_number: Mapped[int] = mapped_column(Integer)
    house_number_addition: Mapped[str] = mapped_column(String(10), default="")
    street: Mapped[str | None] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(120), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    geocode_status: Mapped[GeocodeStatus] = mapped_column(
        str_enum(GeocodeStatus, "geocode_status"), default=GeocodeStatus.PENDING
    )
    geocode_error: Mapped[str | None] = mapped_column(String(300))
    # Optional weekly window in which this address counts (e.g. work: weekdays 08:00-18:00).
    # window_days is a bitmask, Monday = 1 ... Sunday = 64; minutes are local time of day.
    window_days: Mapped[int | None] = mapped_column(Integer)
    window_start_min: Mapped[int | None] = mapped_column(Integer)
    window_end_min: Mapped[int | None] = mapped_column(Integer)

    participant: Mapped[Participant] = relationship(back_populates="addresses")


class PhoneNumber(Timestamped, Base):
    __tablename__ = "phone_number"
    __table_args__ = (UniqueConstraint("participant_id", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[PhoneKind] = mapped_column(str_enum(PhoneKind, "phone_kind"))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None]

    participant: Mapped[Participant] = relationship(back_populates="phones")


class GazetteerAddress(Base):
    """Local postcode + house number -> coordinates table, imported from a BAG extract."""

    __tablename__ = "gazetteer_address"
    __table_args__ = (UniqueConstraint("postcode", "house_number", "house_number_addition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postcode: Mapped[str] = mapped_column(String(6))
    house_number: Mapped[int] = mapped_column(Integer)
    house_number_addition: Mapped[str] = mapped_column(String(10), default="")
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(120))
    municipality: Mapped[str | None] = mapped_column(String(120))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Municipality(Base):
    """Population per municipality, for recruitment figures."""

    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    population: Mapped[int] = mapped_column(Integer)


class VerificationCode(Base):
    """A one-time code proving a participant controls a phone number or email address."""

    __tablename__ = "verification_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # phone | email | login
    target: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- actions, deliveries, sightings -------------------------------------------------------


class Action(Timestamped, Base):
    __tablename__ = "action"

    id: Mapped[int] = mapped_column(primary_key=True)
    control_room_id: Mapped[int] = mapped_column(ForeignKey("control_room.id"), index=True)
    incident_type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType, "incident_type"))
    # Structured description (signalement) as entered; prompts/ composes the text from it.
    description: Mapped[dict] = mapped_column(JSON, default=dict)
    free_text: Mapped[str] = mapped_column(Text, default="")
    # The Burgernet norms the centralist confirmed with the draft, by name (actions.norms);
    # NULL: none confirmed yet.
    norms: Mapped[dict | None] = mapped_column(JSON)
    # The texts as sent, frozen at start so every participant hears the same message.
    voice_text: Mapped[str | None] = mapped_column(Text)
    sms_text: Mapped[str | None] = mapped_column(Text)
    location_label: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ActionStatus] = mapped_column(
        str_enum(ActionStatus, "action_status"), default=ActionStatus.DRAFT, index=True
    )
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, "outcome"))
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    supervisor_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome_sent_at: Mapped[datetime | None]

    control_room: Mapped[ControlRoom] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="action")
    revisions: Mapped[list[ActionRevision]] = relationship(order_by="ActionRevision.number")


class RevisionKind(str, enum.Enum):
    UPDATE = "update"  # a new description or free text (vervolgbericht)
    AREA = "area"  # a wider circle or a moved point


class ActionRevision(Base):
    """One change to a running action, in order: who, when, what it was before and after, and
    what it did (updates queued for the reached, new participants added)."""

    __tablename__ = "action_revision"
    __table_args__ = (UniqueConstraint("action_id", "number", name="one_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per action
    kind: Mapped[RevisionKind] = mapped_column(str_enum(RevisionKind, "revision_kind"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    supervisor_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    # What changed, before and after: description, free_text, the update text; or lat, lon,
    # radius_m, location_label.
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)
    # Update deliveries queued for those already reached.
    updates_queued: Mapped[int] = mapped_column(Integer, default=0)
    # Alert deliveries not yet made, which now carry the new text.
    pending_with_new_text: Mapped[int] = mapped_column(Integer, default=0)
    # Contact points a wider or moved circle added (nobody twice).
    recipients_added: Mapped[int] = mapped_column(Integer, default=0)
    # The action's contact points after the change (what the supervisor rule counted).
    recipients_total: Mapped[int] = mapped_column(Integer, default=0)


class Delivery(Timestamped, Base):
    """One message to one contact point: a call attempt series, an SMS or an email."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("action_id", "kind", "channel", "target", "revision", name="one_per_contact"),
        Index("ix_delivery_claim", "state", "next_attempt_at"),
        Index("ix_delivery_provider", "provider", "provider_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"), index=True)
    # Null after the participant deleted their account: the row survives as an anonymous count.
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[DeliveryKind] = mapped_column(
        str_enum(DeliveryKind, "delivery_kind"), default=DeliveryKind.ALERT
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    # E.164 number or email address; null once purged by retention.
    target: Mapped[str | None] = mapped_column(String(254))
    phone_kind: Mapped[PhoneKind | None] = mapped_column(str_enum(PhoneKind, "phone_kind"))
    distance_m: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer, default=0)  # dial order: nearest first
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The action's revision this row belongs to: 0 for the alert (also for contact points a
    # wider circle added, so nobody gets the alert twice), the update's number for an update.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    state: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState, "delivery_state"), default=DeliveryState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunk.id"))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(120))
    # Which dialer process holds the row while it is in flight.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[str | None] = mapped_column(String(40))
    hangup_cause: Mapped[str | None] = mapped_column(String(60))
    answered_by: Mapped[str | None] = mapped_column(String(20))  # human | machine
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    transfer_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    menu_choices: Mapped[str] = mapped_column(String(60), default="")
    last_attempt_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # What the answered call really played (voice; this attempt): when the alert message
    # began, how many seconds of it the participant heard, and whether none, part or all.
    message_started_at: Mapped[datetime | None]
    listened_s: Mapped[float | None] = mapped_column(Float)
    heard: Mapped[MessageHeard | None] = mapped_column(str_enum(MessageHeard, "message_heard"))
    hangup_by: Mapped[HangupBy | None] = mapped_column(str_enum(HangupBy, "hangup_by"))

    action: Mapped[Action | None] = relationship(back_populates="deliveries")


class DeliveryEvent(Base):
    """Every state change and provider event of a delivery, in order: the dialer's log."""

    __tablename__ = "delivery_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Sighting(Timestamped, Base):
    """What a caller on the call-back number reported."""

    __tablename__ = "sighting"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"), index=True)
    control_room_id: Mapped[int | None] = mapped_column(ForeignKey("control_room.id"))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participant.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id"))
    distance_m: Mapped[float | None] = mapped_column(Float)
    recording_path: Mapped[str | None] = mapped_column(String(500))
    duration_s: Mapped[float | None] = mapped_column(Float)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_call_id: Mapped[str | None] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)
    transfer_result: Mapped[str | None] = mapped_column(String(40))
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    handled_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    # What became of the caller's recording: complete | truncated | failed | none (no recording
    # was made, e.g. the caller hung up first); `recording_error` says why when not complete.
    recording_status: Mapped[str | None] = mapped_column(String(20))
    recording_error: Mapped[str | None] = mapped_column(String(200))
    # Where the call is on the line (callback_line.line_states): ivr | waiting | recording |
    # connected | recorded | missed; null on rows from before the queue.
    line_state: Mapped[str | None] = mapped_column(String(20))
    queued_at: Mapped[datetime | None]
    wait_s: Mapped[float | None] = mapped_column(Float)  # seconds waited in the queue
    answered_by: Mapped[str | None] = mapped_column(String(120))  # the queue member who answered
    ended_at: Mapped[datetime | None]
    called_back_at: Mapped[datetime | None]
    called_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))

    __table_args__ = (Index("ix_sighting_room_line_state", "control_room_id", "line_state"),)

    @classmethod
    def left_a_report(cls):
        """SQL: the call left something to act on (put through, or a recording tried or kept).

        Every call to the call-back line is a row, also a caller who hung up before a choice
        (`recording_status` none, not put through): those are kept for the call-back list but
        are not sightings in the figures. Rows from before the status existed count."""
        return or_(cls.recording_status.is_(None), cls.recording_status != "none", cls.transferred.is_(True))


class ProcessHeartbeat(Base):
    """A running process of the platform (web, dialer, ivr, scheduler) and its last sign of life.

    Each process upserts its row every few seconds; `/readyz` and the admin status page read
    them. `status` is ok | degraded (working around a fault, `detail` says which) | stopped.
    """

    __tablename__ = "process_heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)  # role:host:pid[:trunk]
    role: Mapped[str] = mapped_column(String(20), index=True)  # web | dialer | ivr | scheduler
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Lease(Base):
    """A named lease one process holds until it expires: the leadership of the cluster-wide jobs.

    Taken or renewed by one conditional UPDATE (free, expired, or already ours), so a holder
    that dies loses it after `expires_at` and another process takes over.
    """

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(160))
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what, when: logins, action start/change/end, administration."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    actor: Mapped[str] = mapped_column(String(120))  # username, "system", "participant:<id>"
    event: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class DailyAggregate(Base):
    """Per action and channel figures that survive the retention purge of personal data."""

    __tablename__ = "daily_aggregate"
    __table_args__ = (UniqueConstraint("action_id", "channel", "phone_kind", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    phone_kind: Mapped[str] = mapped_column(String(10), default="")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Heard the message (a call played part or all of it) or got it (SMS, email).
    reached: Mapped[int] = mapped_column(Integer, default=0)
    # Picked up by a person or handed over, heard or not (the figure "reached" was before).
    answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acknowledged: Mapped[int] = mapped_column(Integer, default=0)


class WebhookReceipt(Base):
    """One signed provider webhook request, by a digest of what its signature covers (the URL
    and the canonical parameter set, however the body was encoded): the same event seen again
    is a replay (web/twilio_hooks.py). Rows older than the replay window are deleted."""

    __tablename__ = "webhook_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    request_hash: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
