"""The dialer worker: claims queued deliveries, paces them onto its trunk, applies call events.

One `tick()` does, in order:
1. apply the call events the backend reported since the last tick (one transaction), and
   every few seconds drop rows of participants who opted out since the wave was planned;
2. hold voice calls that fall in quiet hours, release held rows whose window ended;
3. hang up calls of ended actions, if the setting asks for it;
4. claim as many due voice rows as free channels, the CPS token bucket and prefix caps allow,
   shared between the running actions by priority with a floor for each (deliveries.trunk_share),
   and originate them;
5. send due SMS and email rows through the message senders;
6. every few seconds: reconcile calls that went silent (a dead worker's, or a lost event) as
   outcome unknown, never blindly redialled.

All state is in the database: a row is claimed (queued -> dialing for a call, queued -> sending
for a message; attempts + 1, claimed_by) and committed BEFORE it is handed to the network, so a
crash can never make the same attempt twice. On PostgreSQL claims use `FOR UPDATE SKIP LOCKED`,
so several workers share a wave without overlap; on SQLite one worker runs.

Several workers may dial on ONE trunk (PostgreSQL): each claim transaction first locks the
trunk row (`SELECT ... FOR UPDATE`), so claims on a trunk are serialised across processes. The
free channels are counted from the rows in flight on the trunk (a dead worker's rows are
reconciled, never a counter that leaks), and the calls-per-second budget is a token bucket kept
in the trunk row (`tokens`, `tokens_at`), refilled from the database clock and taken in the same
transaction; no more than `cps` calls are claimed in any one-second window either. The trunk's
limits therefore hold whatever the number of dialers.

The loop survives its database (`run`): a failed tick is logged and retried with backoff; a loop
that has completed no tick for `dialer.max_outage_s` gives up (`gave_up`), and `dialer run` exits
non-zero so its supervisor restarts it. A circuit breaker asks the backend before each claim
(`unavailable_reason()`): while the link is down nothing is claimed and no attempt is spent.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from config.clock import Clock, SystemClock
from config.logging import log_event
from config.settings import Settings
from db.database import Database
from db.heartbeats import Heartbeat
from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    Participant,
    ParticipantStatus,
    Trunk,
)
from deliveries.call_backend import (
    BackendUnavailable,
    CallBackend,
    CallEvent,
    CallEventType,
    CallRequest,
    OriginateError,
)
from deliveries.events import UnknownDelivery, apply_call_event, load_batch_for_update, schedule_retry
from deliveries.message_sender import MessageSender, SendError, SendResult
from deliveries.message_texts import MessageComposer
from deliveries.quiet_hours import held_until, quiet_window
from deliveries.retry import MESSAGE_INVALID, OUTCOME_UNKNOWN
from deliveries.states import IN_FLIGHT, IllegalTransition, transition, transition_many
from deliveries.trunk_share import FlowUse, share_order, trunk_use
from dialer.pacing import Candidate, TokenBucket, choose_calls, prefix_load
from dialer.simulated_ivr import walk_alert_flow

logger = logging.getLogger(__name__)

S = DeliveryState
# Calls that follow an alert (the outcome message, an update) run the short outcome flow.
FOLLOW_UP_KINDS = (DeliveryKind.OUTCOME, DeliveryKind.UPDATE)
RECONCILE_EVERY_S = 5.0
BREAKER_POLL_S = 0.1  # how often the loop asks a down backend whether it is back
BREAKER_HOLD_S = 1.0  # after an originate found the backend down, claim nothing for this long
PERMANENT_SEND_CAUSE = "INVALID_NUMBER"  # never retried (deliveries.retry.PERMANENT_CAUSES)


@dataclass
class TickReport:
    events: int = 0
    reconciled: int = 0
    held: int = 0
    released: int = 0
    hung_up: int = 0
    placed: int = 0
    sent: int = 0
    opted_out: int = 0

    @property
    def busy(self) -> bool:
        return any(
            (
                self.events,
                self.reconciled,
                self.held,
                self.released,
                self.hung_up,
                self.placed,
                self.sent,
                self.opted_out,
            )
        )


@dataclass(frozen=True)
class TrunkLimits:
    id: int
    name: str
    max_channels: int
    cps: float
    prefix_caps: dict


def ensure_trunk(db: Database, name: str, backend: CallBackend, settings: Settings) -> TrunkLimits:
    """The trunk this worker dials on; created with the settings' limits if it does not exist.

    A provider with its own calls-per-second limit (a Twilio account's CPS) caps the setting.
    """
    with db.session() as session:
        trunk = session.scalars(select(Trunk).where(Trunk.name == name)).one_or_none()
        if trunk is None:
            cps = settings.dialer.cps
            provider_cps = getattr(backend, "max_cps", None)
            if provider_cps:
                cps = min(cps, provider_cps)
            trunk = Trunk(
                name=name,
                backend=backend.name,
                max_channels=settings.dialer.channels,
                cps=cps,
                prefix_caps={},
            )
            session.add(trunk)
            try:
                session.commit()
            except IntegrityError:  # another dialer created it at the same moment: use theirs
                session.rollback()
                trunk = session.scalars(select(Trunk).where(Trunk.name == name)).one()
        if trunk.max_channels <= 0 or trunk.cps <= 0:
            raise ValueError(f"trunk {name!r} needs max_channels > 0 and cps > 0")
        return TrunkLimits(trunk.id, trunk.name, trunk.max_channels, trunk.cps, dict(trunk.prefix_caps or {}))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DialerGaveUp(RuntimeError):
    """The loop could not complete a tick for longer than `dialer.max_outage_s`."""


class DialerWorker:
    def __init__(
        self,
        db: Database,
        backend: CallBackend,
        clock: Clock,
        settings: Settings,
        *,
        senders: Mapping[str, MessageSender] | None = None,
        trunk_name: str | None = None,
        worker_id: str | None = None,
        simulate_ivr: bool | None = None,
    ):
        self.db = db
        self.backend = backend
        self.clock = clock
        self.settings = settings
        self.senders = dict(senders or {})
        self.worker_id = worker_id or default_worker_id()
        self.trunk = ensure_trunk(db, trunk_name or backend.name, backend, settings)
        # The shared budget is timed by the database's clock when several processes on several
        # hosts may share the trunk; by the worker's clock otherwise (tests, simulated time).
        self.database_time = db.is_postgresql and isinstance(clock, SystemClock)
        self.composer = MessageComposer(settings, clock)
        self.simulate_ivr = (backend.name == "simulator") if simulate_ivr is None else simulate_ivr
        self.wake = threading.Event()
        self._events: deque[CallEvent] = deque()
        self._events_lock = threading.Lock()
        self._next_reconcile = clock.monotonic()
        self._hung_up: set[int] = set()
        self._ivr_digits: dict[int, list[str]] = {}
        self._lock = threading.Lock()  # one tick at a time, whoever calls it
        # Claims whose commit failed (the connection cut): committed or not, nobody knows; the
        # next tick looks them up and dials those that were (the attempt was never made).
        self._uncertain_claims: tuple[list[int], datetime] | None = None
        self._breaker_until = 0.0  # monotonic; an originate found the backend down
        self.breaker_reason: str | None = None
        self.tick_error: str | None = None  # the last tick's error while ticks fail
        self.database_down = False
        self.gave_up: str | None = None
        self.heartbeat = Heartbeat(db, "dialer", suffix=self.trunk.name)
        self.started = False

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        if not self.started:
            self.backend.start(self.submit)
            self.started = True
            log_event(
                logger,
                "dialer.started",
                worker=self.worker_id,
                trunk=self.trunk.name,
                channels=self.trunk.max_channels,
                cps=self.trunk.cps,
                backend=self.backend.name,
            )

    def stop(self) -> None:
        if self.started:
            self.backend.stop()
            self.started = False
            log_event(logger, "dialer.stopped", worker=self.worker_id)

    def submit(self, event: CallEvent) -> None:
        """The backend's event sink: thread-safe, applied on the next tick."""
        with self._events_lock:
            self._events.append(event)
        self.wake.set()

    @property
    def pending_events(self) -> int:
        return len(self._events)

    def run(self, stop: threading.Event) -> None:
        """The pacing loop, and the only one: `burgernet dialer run` (in training mode too), the
        browser tests and the Asterisk end-to-end tests all run it (through `PacingLoop`, or in
        a thread of their own).

        Tick, then wait until the backend reports an event (`wake`) or `poll_interval_s`
        passes, until `stop` is set (set `wake` too, to end the wait at once). A tick that
        fails (the database away) is logged and retried after a backoff (doubling from the poll
        interval up to `retry_backoff_max_s`); the events it could not apply wait for the next
        tick, and every claim was committed before its call. When no tick has completed for
        `max_outage_s` the loop gives up: `gave_up` says why and the loop returns (the process
        exits non-zero). While the backend is unavailable the loop polls quickly, so the first
        call goes out soon after the link is back. The heartbeat is beaten every
        `heartbeat_interval_s`, from this loop, and a failed beat is only logged.
        """
        config = self.settings.dialer
        self.start()
        last_ok = time.monotonic()
        next_beat = 0.0
        failures = 0
        try:
            while not stop.is_set():
                self.wake.clear()  # an event that arrives during the tick wakes the next wait
                wait_s = config.poll_interval_s
                try:
                    self.tick()
                except Exception as exc:  # logged (traceback at debug level); retried with backoff
                    failures += 1
                    self.tick_error = repr(exc)[:300]
                    self.database_down = isinstance(exc, SQLAlchemyError)
                    log_event(
                        logger,
                        "dialer.tick_failed",
                        logging.ERROR,
                        worker=self.worker_id,
                        failures=failures,
                        error=repr(exc)[:500],
                    )
                    logger.debug("dialer.tick_failed traceback", exc_info=True)
                    down_s = time.monotonic() - last_ok
                    if down_s > config.max_outage_s:
                        self.gave_up = f"no tick completed for {down_s:.0f} s: {exc!r}"[:500]
                        log_event(
                            logger,
                            "dialer.gave_up",
                            logging.CRITICAL,
                            worker=self.worker_id,
                            outage_s=round(down_s, 1),
                            max_outage_s=config.max_outage_s,
                            error=repr(exc)[:500],
                        )
                        return
                    wait_s = min(config.retry_backoff_max_s, config.poll_interval_s * 2 ** min(failures, 16))
                else:
                    if failures:
                        log_event(
                            logger,
                            "dialer.recovered",
                            worker=self.worker_id,
                            failures=failures,
                            outage_s=round(time.monotonic() - last_ok, 1),
                        )
                    failures = 0
                    self.tick_error = None
                    self.database_down = False
                    last_ok = time.monotonic()
                    if self.breaker_reason is not None:
                        wait_s = min(wait_s, BREAKER_POLL_S)
                if time.monotonic() >= next_beat:
                    self.beat()
                    next_beat = time.monotonic() + config.heartbeat_interval_s
                if stop.is_set():
                    break
                self.wake.wait(wait_s)
        finally:
            self.stop()
            if self.gave_up is None:
                self.beat("stopped")

    def health(self) -> tuple[str, dict]:
        """ok, or degraded with the reason: the database unreachable, the backend unavailable."""
        detail: dict = {"worker": self.worker_id, "trunk": self.trunk.name, "backend": self.backend.name}
        reasons = []
        if self.tick_error:
            reasons.append("database unreachable" if self.database_down else "tick failed")
            detail["error"] = self.tick_error
        if self.breaker_reason:
            reasons.append("backend unavailable")
            detail["backend_reason"] = self.breaker_reason
        if reasons:
            detail["reason"] = "; ".join(reasons)
            return "degraded", detail
        return "ok", detail

    def beat(self, status: str | None = None) -> None:
        """Beat the heartbeat row; a failure (the database away) is logged, never raised."""
        state, detail = self.health()
        try:
            self.heartbeat.beat(status or state, **detail)
        except Exception as exc:
            log_event(
                logger, "dialer.heartbeat_failed", logging.WARNING, worker=self.worker_id, error=repr(exc)
            )

    # --- one pass ---------------------------------------------------------------------------

    def tick(self) -> TickReport:
        with self._lock:
            report = TickReport()
            sweep = self.clock.monotonic() >= self._next_reconcile
            report.events = self.apply_events()
            if sweep:
                report.opted_out = self.drop_opted_out()
            report.held, report.released = self.apply_quiet_hours()
            report.hung_up = self.hang_up_ended_actions()
            report.placed = self.place_calls()
            report.sent = self.send_messages()
            if sweep:
                # After placing: a fresh wave's first calls do not wait for the sweep.
                report.reconciled = self.reconcile()
                self._next_reconcile = self.clock.monotonic() + RECONCILE_EVERY_S
            return report

    # --- 1. events --------------------------------------------------------------------------

    def apply_events(self) -> int:
        with self._events_lock:
            batch = list(self._events)
            self._events.clear()
        if not batch:
            return 0
        try:
            with self.db.session() as session:
                rows = load_batch_for_update(session, (event.delivery_id for event in batch))
                for event in batch:
                    self._apply_one(session, event, rows.get(event.delivery_id))
                session.commit()
        except (IllegalTransition, UnknownDelivery, ValueError):
            # One bad event must not cost the others: apply them one transaction each.
            for event in batch:
                with self.db.session() as session:
                    try:
                        self._apply_one(session, event)
                        session.commit()
                    except (IllegalTransition, UnknownDelivery, ValueError) as exc:
                        session.rollback()
                        log_event(
                            logger,
                            "call_event.refused",
                            logging.WARNING,
                            delivery_id=event.delivery_id,
                            type=event.type.value,
                            error=str(exc),
                        )
        except Exception:
            # The database failed (locked, connection lost): keep the events, in order, for
            # the next tick, and let the scheduler log the error.
            with self._events_lock:
                self._events.extendleft(reversed(batch))
            raise
        if self.simulate_ivr:
            self._walk_simulated_calls(batch)
        return len(batch)

    def _apply_one(self, session: Session, event: CallEvent, delivery: Delivery | None = None) -> None:
        apply_call_event(session, event, self.clock, self.settings, delivery)

    def _walk_simulated_calls(self, batch: list[CallEvent]) -> None:
        """Answered simulated calls run the real alert flow with the participant's digits."""

        finished: list[tuple[int, list[str]]] = []
        for event in batch:
            if (event.detail or {}).get("ivr") != "simulated":
                continue
            if event.type == CallEventType.ANSWERED:
                self._ivr_digits[event.delivery_id] = []
            elif event.type == CallEventType.DTMF and event.delivery_id in self._ivr_digits:
                self._ivr_digits[event.delivery_id].extend(event.digits or "")
            elif event.type in (CallEventType.COMPLETED, CallEventType.FAILED):
                digits = self._ivr_digits.pop(event.delivery_id, None)
                if digits is not None:
                    finished.append((event.delivery_id, digits))
        for delivery_id, digits in finished:
            with self.db.session() as session:
                delivery = session.get(Delivery, delivery_id)
                if delivery is None or delivery.kind != DeliveryKind.ALERT:
                    continue
                try:
                    walk_alert_flow(session, delivery_id, digits, "human", self.clock, self.settings)
                    session.commit()
                except Exception as exc:  # the flow's own error: log it, the call is over
                    session.rollback()
                    log_event(
                        logger,
                        "simulator.ivr_failed",
                        logging.ERROR,
                        delivery_id=delivery_id,
                        error=repr(exc),
                    )

    # --- 6. reconcile -----------------------------------------------------------------------

    def reconcile(self) -> int:
        """Calls without news for too long end as 'outcome unknown' (never redialled); a voice
        call's channel is hung up too, so a call the platform no longer follows does not hold
        the trunk."""
        now = self.clock.now()
        dial_deadline = now - timedelta(
            seconds=self.settings.dialer.dial_timeout_s + self.settings.dialer.reconcile_grace_s
        )
        call_deadline = now - timedelta(
            seconds=self.settings.dialer.max_call_s + self.settings.dialer.reconcile_grace_s
        )
        message_deadline = now - timedelta(seconds=self.settings.dialer.reconcile_grace_s)
        stale = or_(
            and_(Delivery.state.in_([S.DIALING, S.RINGING]), Delivery.last_attempt_at < dial_deadline),
            and_(Delivery.state == S.ANSWERED, Delivery.answered_at < call_deadline),
            and_(Delivery.state == S.LEAVING_MESSAGE, Delivery.answered_at < call_deadline),
            and_(Delivery.state == S.SENDING, Delivery.last_attempt_at < message_deadline),
        )
        count = 0
        to_hang_up: list[tuple[int, str]] = []
        with self.db.session() as session:
            query = select(Delivery).where(stale).limit(500)
            if self.db.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            for delivery in session.scalars(query):
                if delivery.channel == Channel.VOICE and delivery.provider_id:
                    to_hang_up.append((delivery.id, delivery.provider_id))
                self._reconcile_one(session, delivery)
                count += 1
            session.commit()
        for delivery_id, provider_id in to_hang_up:
            try:
                self.backend.hangup(delivery_id, provider_id)
            except Exception as exc:  # the row is settled; a channel left up ends by the PBX's timeout
                log_event(
                    logger,
                    "dialer.stale_hangup_failed",
                    logging.WARNING,
                    delivery_id=delivery_id,
                    error=repr(exc),
                )
        if count:
            log_event(logger, "dialer.reconciled", logging.WARNING, worker=self.worker_id, deliveries=count)
        return count

    def _reconcile_one(self, session: Session, delivery: Delivery) -> None:
        detail = {"previous_claim": delivery.claimed_by, "worker": self.worker_id}
        state = S(delivery.state)
        delivery.hangup_cause = OUTCOME_UNKNOWN
        if state == S.ANSWERED:
            transition(session, delivery, S.COMPLETED, event="dialer.reconciled", clock=self.clock, **detail)
        elif state == S.LEAVING_MESSAGE:
            transition(session, delivery, S.MACHINE, event="dialer.reconciled", clock=self.clock, **detail)
        else:
            transition(session, delivery, S.FAILED, event="dialer.reconciled", clock=self.clock, **detail)

    def drop_opted_out(self) -> int:
        """Participants who opted out after the wave was planned are not contacted."""
        moved = 0
        with self.db.session() as session:
            rows = session.execute(
                select(Delivery.id, Delivery.channel, Delivery.state)
                .join(Participant, Participant.id == Delivery.participant_id)
                .where(
                    Delivery.state.in_([S.QUEUED, S.HELD]), Participant.status == ParticipantStatus.OPTED_OUT
                )
            ).all()
            groups: dict[tuple[Channel, S], list[int]] = {}
            for delivery_id, channel, state in rows:
                groups.setdefault((Channel(channel), S(state)), []).append(delivery_id)
            for (channel, state), ids in groups.items():
                moved += transition_many(
                    session, ids, channel, state, S.OPTED_OUT, event="participant.opted_out", clock=self.clock
                )
            session.commit()
        return moved

    # --- 2. quiet hours ---------------------------------------------------------------------

    def apply_quiet_hours(self) -> tuple[int, int]:
        now = self.clock.now()
        held = released = 0
        with self.db.session() as session:
            due = or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)
            action_ids = session.scalars(
                select(Delivery.action_id)
                .distinct()
                .where(
                    Delivery.state == S.QUEUED,
                    Delivery.channel == Channel.VOICE,
                    due,
                    Delivery.action_id.is_not(None),
                )
            ).all()
            for action in session.scalars(select(Action).where(Action.id.in_(action_ids))):
                until = held_until(quiet_window(action.control_room, self.settings), action.urgent, now)
                if until is None:
                    continue
                ids = session.scalars(
                    select(Delivery.id).where(
                        Delivery.action_id == action.id,
                        Delivery.state == S.QUEUED,
                        Delivery.channel == Channel.VOICE,
                        due,
                    )
                ).all()
                held += transition_many(
                    session,
                    ids,
                    Channel.VOICE,
                    S.QUEUED,
                    S.HELD,
                    event="quiet_hours.held",
                    clock=self.clock,
                    values={"next_attempt_at": until},
                    until=until.isoformat(),
                )
            ready = session.execute(
                select(Delivery.id, Delivery.channel).where(
                    Delivery.state == S.HELD, Delivery.next_attempt_at <= now
                )
            ).all()
            by_channel: dict[Channel, list[int]] = {}
            for delivery_id, channel in ready:
                by_channel.setdefault(Channel(channel), []).append(delivery_id)
            for channel, ids in by_channel.items():
                released += transition_many(
                    session, ids, channel, S.HELD, S.QUEUED, event="quiet_hours.released", clock=self.clock
                )
            session.commit()
        return held, released

    # --- 3. stop ----------------------------------------------------------------------------

    def hang_up_ended_actions(self) -> int:
        if not self.settings.dialer.hang_up_in_progress_on_stop:
            return 0
        to_hang_up: list[tuple[int, str | None]] = []
        with self.db.session() as session:
            rows = session.scalars(
                select(Delivery)
                .join(Action, Action.id == Delivery.action_id)
                .where(
                    Delivery.trunk_id == self.trunk.id,
                    Delivery.state.in_(IN_FLIGHT),
                    Delivery.kind == DeliveryKind.ALERT,
                    Action.status == ActionStatus.ENDED,
                )
            ).all()
            for delivery in rows:
                if delivery.id in self._hung_up:
                    continue
                if delivery.state in (S.DIALING, S.RINGING):
                    transition(
                        session,
                        delivery,
                        S.CANCELLED,
                        event="action.ended.hangup",
                        clock=self.clock,
                        worker=self.worker_id,
                    )
                to_hang_up.append((delivery.id, delivery.provider_id))
            session.commit()
        for delivery_id, provider_id in to_hang_up:
            self._hung_up.add(delivery_id)
            self.backend.hangup(delivery_id, provider_id)
        return len(to_hang_up)

    # --- 4. calls ---------------------------------------------------------------------------

    def _holds_channel(self):
        """Rows occupying a channel of this trunk (a machine's until its message is left)."""
        return and_(Delivery.trunk_id == self.trunk.id, Delivery.state.in_(IN_FLIGHT))

    def in_flight(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(Delivery).where(self._holds_channel())) or 0

    def _claimable(self, channels: list[Channel], now: datetime):
        return (
            select(Delivery)
            .outerjoin(Action, Action.id == Delivery.action_id)
            .where(
                Delivery.state == S.QUEUED,
                Delivery.channel.in_(channels),
                Delivery.target.is_not(None),
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                or_(Action.status == ActionStatus.RUNNING, Delivery.kind != DeliveryKind.ALERT),
                # Verification calls carry a code the dialer never sees: the portal places them.
                Delivery.kind != DeliveryKind.VERIFICATION,
            )
        )

    def backend_unavailable(self) -> str | None:
        """The circuit breaker: why calls cannot be handed over now, or None.

        Asks the backend (`unavailable_reason()`), and stays open for a moment after an
        originate found the backend down even if the backend does not say so itself.
        """
        ask = getattr(self.backend, "unavailable_reason", None)
        reason = ask() if ask is not None else None
        if reason is None and self.clock.monotonic() < self._breaker_until:
            reason = self.breaker_reason or "backend unavailable"
        if reason != self.breaker_reason:
            if reason is None:
                log_event(
                    logger, "dialer.backend_available", worker=self.worker_id, backend=self.backend.name
                )
            else:
                log_event(
                    logger,
                    "dialer.backend_unavailable",
                    logging.WARNING,
                    worker=self.worker_id,
                    backend=self.backend.name,
                    reason=reason,
                )
        self.breaker_reason = reason
        return reason

    def _lock_trunk(self, session: Session) -> Trunk:
        """The trunk row, locked until the claim transaction ends (PostgreSQL): the claims of
        every dialer on this trunk take turns here."""
        trunk = session.get(Trunk, self.trunk.id, with_for_update=self.db.is_postgresql)
        if trunk is None:
            raise RuntimeError(f"trunk {self.trunk.name!r} was deleted")
        return trunk

    def _claim_time(self, session: Session) -> datetime:
        if self.database_time:
            # clock_timestamp(), not now(): the latter is the transaction's start, before the lock.
            now = session.scalar(select(func.clock_timestamp()))
            if now is not None:
                return now
        return self.clock.now()

    def _bucket(self, trunk: Trunk, now: datetime) -> tuple[TokenBucket, float]:
        """The trunk's shared token bucket as the pure TokenBucket, and `now` on its time line
        (seconds since the row's `tokens_at`)."""
        bucket = TokenBucket.for_cps(trunk.cps, self.settings.dialer.cps_burst_s, 0.0)
        if trunk.tokens is not None:
            bucket.tokens = max(0.0, min(bucket.capacity, trunk.tokens))
        elapsed = (now - trunk.tokens_at).total_seconds() if trunk.tokens_at is not None else 0.0
        return bucket, elapsed

    def _started_in_window(self, session: Session, now: datetime) -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.trunk_id == self.trunk.id,
                    Delivery.channel == Channel.VOICE,
                    Delivery.last_attempt_at > now - timedelta(seconds=self.settings.dialer.cps_window_s),
                )
            )
            or 0
        )

    def _recover_uncertain_claims(self) -> list:
        """Rows of a claim whose commit failed but which were committed: dial them now."""
        if self._uncertain_claims is None:
            return []
        ids, at = self._uncertain_claims
        with self.db.session() as session:
            rows = session.execute(
                select(
                    Delivery.id,
                    Delivery.attempts,
                    Delivery.target,
                    Delivery.kind,
                    Delivery.action_id,
                    Delivery.revision,
                ).where(
                    Delivery.id.in_(ids),
                    Delivery.claimed_by == self.worker_id,
                    Delivery.state == S.DIALING,
                    Delivery.provider_id.is_(None),
                    Delivery.last_attempt_at == at,
                )
            ).all()
        self._uncertain_claims = None
        if rows:
            log_event(
                logger, "dialer.claims_recovered", logging.WARNING, worker=self.worker_id, rows=len(rows)
            )
        return list(rows)

    def _shared_candidates(
        self, session: Session, trunk: Trunk, now: datetime, budget: int, caps: dict
    ) -> list[Candidate]:
        """The next calls, in the order the trunk's sharing gives them (deliveries.trunk_share):
        each running action (and each ended action's outcome messages) with calls due is a
        flow; its due rows are fetched (and locked) up to the budget, its retries first and
        then nearest first, and the flows interleaved by their weighted shares."""
        due_now = self.clock.now()
        config = self.settings.dialer
        flows = session.execute(
            self._claimable([Channel.VOICE], due_now)
            .with_only_columns(Delivery.action_id, func.max(Delivery.priority))
            .group_by(Delivery.action_id)
        ).all()
        if not flows:
            return []
        fetch = budget * (4 if caps else 1)
        by_flow: dict[int | None, list[Candidate]] = {}
        for action_id, _priority in flows:
            query = (
                self._claimable([Channel.VOICE], due_now)
                .where(Delivery.action_id.is_(None) if action_id is None else Delivery.action_id == action_id)
                .order_by(Delivery.next_attempt_at.is_(None), Delivery.rank, Delivery.id)
                .limit(fetch)
            )
            if self.db.is_postgresql:
                query = query.with_for_update(skip_locked=True, of=Delivery)
            rows = [
                Candidate(d.id, d.action_id, d.priority, d.rank, d.target) for d in session.scalars(query)
            ]
            if rows:
                by_flow[action_id] = rows
        use = trunk_use(session, trunk.id, now, config.share_window_s)
        order = share_order(
            [
                FlowUse(key, priority or 0, *use.get(key, (0, 0)), waiting=len(by_flow.get(key, ())))
                for key, priority in flows
            ],
            sum(len(rows) for rows in by_flow.values()),
            channels=trunk.max_channels,
            cps=trunk.cps,
            window_s=config.share_window_s,
            min_share=config.min_share,
        )
        taken = {key: iter(rows) for key, rows in by_flow.items()}
        return [next(taken[key]) for key in order]

    def place_calls(self) -> int:
        if self.backend_unavailable() is not None:
            return 0  # nothing claimed, no attempt spent; the loop polls quickly meanwhile
        recovered = self._recover_uncertain_claims()
        claimed: list = []
        ids: list[int] = []
        with self.db.session() as session:
            trunk = self._lock_trunk(session)
            now = self._claim_time(session)
            free = trunk.max_channels - self.in_flight(session)
            bucket, elapsed = self._bucket(trunk, now)
            tokens = bucket.available(elapsed)
            window_cap = max(1, math.floor(trunk.cps + 1e-9))  # per cps_window_s
            budget = min(free, tokens)
            if budget > 0:
                budget = min(budget, window_cap - self._started_in_window(session, now))
            candidates: list[Candidate] = []
            caps = dict(trunk.prefix_caps or {})
            if budget > 0:
                candidates = self._shared_candidates(session, trunk, now, budget, caps)
            if candidates:
                load = {}
                if caps:
                    targets = session.scalars(select(Delivery.target).where(self._holds_channel())).all()
                    load = prefix_load([t for t in targets if t], caps)
                chosen = choose_calls(
                    candidates,
                    free_channels=budget,
                    tokens=budget,
                    prefix_caps=caps,
                    prefix_in_flight=load,
                )
                ids = [c.delivery_id for c in chosen]
                transition_many(
                    session,
                    ids,
                    Channel.VOICE,
                    S.QUEUED,
                    S.DIALING,
                    event="dialer.claimed",
                    clock=self.clock,
                    values={
                        "claimed_by": self.worker_id,
                        "trunk_id": self.trunk.id,
                        "attempts": Delivery.attempts + 1,
                        "last_attempt_at": now,
                        "provider": self.backend.name,
                        "provider_id": None,
                        "next_attempt_at": None,
                    },
                    worker=self.worker_id,
                    trunk=self.trunk.name,
                )
                claimed = list(
                    session.execute(
                        select(
                            Delivery.id,
                            Delivery.attempts,
                            Delivery.target,
                            Delivery.kind,
                            Delivery.action_id,
                            Delivery.revision,
                        ).where(
                            Delivery.id.in_(ids),
                            Delivery.claimed_by == self.worker_id,
                            Delivery.state == S.DIALING,
                        )
                    ).all()
                )
            if claimed:
                bucket.take(len(claimed), elapsed)
                trunk.tokens = bucket.tokens
                if trunk.tokens_at is None or now > trunk.tokens_at:
                    trunk.tokens_at = now
                self._uncertain_claims = (ids, now)
                session.commit()
                self._uncertain_claims = None
            else:
                session.rollback()
        order = {delivery_id: i for i, delivery_id in enumerate(ids)}
        rows = recovered + sorted(claimed, key=lambda r: order[r.id])
        if not rows:
            return 0
        return self._originate(rows)

    def _originate(self, rows: list) -> int:
        """Hand the claimed rows to the network, in order; returns how many attempts were
        made (a refused originate counts, a row given back because the backend is down not)."""
        provider_ids: dict[int, str] = {}
        given_back = 0
        for index, row in enumerate(rows):
            variables = {
                "attempt": str(row.attempts),
                "action_id": str(row.action_id or ""),
                # The PBX hangs the call up after this long (TIMEOUT(absolute)), as reconcile
                # would declare it stale.
                "max_call_s": str(self.settings.dialer.max_call_s),
            }
            if row.kind in FOLLOW_UP_KINDS:
                try:
                    variables["text"] = self._follow_up_text(row)
                except ValueError as exc:  # prompts refused the text: never retried
                    self.submit(
                        CallEvent(
                            delivery_id=row.id,
                            type=CallEventType.FAILED,
                            provider=self.backend.name,
                            at=self.clock.now(),
                            hangup_cause=MESSAGE_INVALID,
                            detail={"attempt": row.attempts, "error": str(exc)},
                        )
                    )
                    continue
            request = CallRequest(
                delivery_id=row.id,
                number=row.target,
                caller_id=self.settings.caller_id,
                timeout_s=self.settings.dialer.dial_timeout_s,
                flow="outcome" if row.kind in FOLLOW_UP_KINDS else "alert",
                variables=variables,
            )
            try:
                provider_id = self.backend.originate(request)
            except BackendUnavailable as exc:
                # Nothing reached the network: this row and the rest of the batch go back to
                # the queue with their attempt unspent, and the breaker opens for a moment.
                self._breaker_until = self.clock.monotonic() + BREAKER_HOLD_S
                self.breaker_reason = str(exc) or "backend unavailable"
                log_event(
                    logger,
                    "dialer.backend_unavailable",
                    logging.WARNING,
                    worker=self.worker_id,
                    backend=self.backend.name,
                    reason=self.breaker_reason,
                    delivery_id=row.id,
                )
                given_back = len(rows) - index
                self.unclaim(rows[index:], self.breaker_reason)
                break
            except OriginateError as exc:
                log_event(
                    logger, "dialer.originate_failed", logging.WARNING, delivery_id=row.id, error=str(exc)
                )
                self.submit(
                    CallEvent(
                        delivery_id=row.id,
                        type=CallEventType.FAILED,
                        provider=self.backend.name,
                        at=self.clock.now(),
                        hangup_cause="ORIGINATE_ERROR",
                        detail={"attempt": row.attempts, "error": str(exc)},
                    )
                )
                continue
            if provider_id:
                provider_ids[row.id] = provider_id
        if provider_ids:
            with self.db.session() as session:
                for delivery_id, provider_id in provider_ids.items():
                    session.execute(
                        update(Delivery)
                        .where(Delivery.id == delivery_id, Delivery.provider_id.is_(None))
                        .values(provider_id=provider_id)
                    )
                session.commit()
        return len(rows) - given_back

    def unclaim(self, rows: list, reason: str) -> int:
        """Undo claims whose call never reached the network (the backend was down): dialing ->
        queued, the attempt given back (attempts - 1), the claim cleared, an event recorded.

        Not a transition of the call's state machine (no call existed), so it is written here,
        in one conditional UPDATE like the claim: only rows still dialing, claimed by this
        worker and without a provider id move.
        """
        if not rows:
            return 0
        now = self.clock.now()
        with self.db.session() as session:
            moved = list(
                session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id.in_([row.id for row in rows]),
                        Delivery.state == S.DIALING,
                        Delivery.claimed_by == self.worker_id,
                        Delivery.provider_id.is_(None),
                    )
                    .values(
                        state=S.QUEUED,
                        attempts=Delivery.attempts - 1,
                        claimed_by=None,
                        provider=None,
                        updated_at=now,
                    )
                    .returning(Delivery.id),
                    execution_options={"synchronize_session": False},
                ).scalars()
            )
            if moved:
                session.execute(
                    insert(DeliveryEvent),
                    [
                        {
                            "delivery_id": delivery_id,
                            "at": now,
                            "event": "dialer.unclaimed",
                            "from_state": S.DIALING.value,
                            "to_state": S.QUEUED.value,
                            "detail": {
                                "worker": self.worker_id,
                                "reason": reason[:200],
                                "attempt_spent": False,
                            },
                        }
                        for delivery_id in moved
                    ],
                )
            session.commit()
        log_event(
            logger, "dialer.unclaimed", logging.WARNING, worker=self.worker_id, rows=len(moved), reason=reason
        )
        return len(moved)

    def _follow_up_text(self, row) -> str:
        """The spoken outcome message (afloopbericht) or update (vervolgbericht), given to the
        backend as the call's text; both run the short outcome flow."""
        with self.db.session() as session:
            action = session.get(Action, row.action_id) if row.action_id is not None else None
            return self.composer.follow_up_voice_text(action, DeliveryKind(row.kind), row.revision)

    # --- 5. messages ------------------------------------------------------------------------

    def send_messages(self) -> int:
        channels = [Channel(c) for c in self.senders]
        if not channels:
            return 0
        now = self.clock.now()
        with self.db.session() as session:
            query = (
                self._claimable(channels, now)
                .order_by(Delivery.priority.desc(), Delivery.rank, Delivery.id)
                .limit(self.settings.dialer.message_batch)
            )
            if self.db.is_postgresql:
                query = query.with_for_update(skip_locked=True, of=Delivery)
            by_channel: dict[Channel, list[int]] = {}
            for delivery in session.scalars(query):
                by_channel.setdefault(Channel(delivery.channel), []).append(delivery.id)
            if not by_channel:
                return 0
            for channel, channel_ids in by_channel.items():
                transition_many(
                    session,
                    channel_ids,
                    channel,
                    S.QUEUED,
                    S.SENDING,
                    event="dialer.claimed",
                    clock=self.clock,
                    values={
                        "claimed_by": self.worker_id,
                        "last_attempt_at": now,
                        "attempts": Delivery.attempts + 1,
                    },
                    worker=self.worker_id,
                )
            ids = list(
                session.scalars(
                    select(Delivery.id).where(
                        Delivery.id.in_([i for group in by_channel.values() for i in group]),
                        Delivery.state == S.SENDING,
                        Delivery.claimed_by == self.worker_id,
                    )
                )
            )
            session.commit()
        if not ids:
            return 0
        results: list[tuple[int, SendResult | SendError]] = []
        with self.db.session() as session:
            for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(ids))):
                action = session.get(Action, delivery.action_id)
                try:
                    message = self.composer.message(delivery, action)
                    results.append((delivery.id, self.senders[delivery.channel.value].send(message)))
                except SendError as exc:
                    results.append((delivery.id, exc))
                except ValueError as exc:  # the message cannot be composed: never retried
                    results.append((delivery.id, SendError(str(exc), permanent=True)))
        with self.db.session() as session:
            for delivery_id, result in results:
                delivery = session.get(Delivery, delivery_id)
                if delivery is None:  # deleted meanwhile (an account removed): nothing to record
                    continue
                if delivery.state != S.SENDING:
                    # The provider's delivery report overtook this worker: it is recorded.
                    if not isinstance(result, SendError) and not delivery.provider_id:
                        delivery.provider, delivery.provider_id = result.provider, result.provider_id
                    continue
                if isinstance(result, SendError):
                    cause = PERMANENT_SEND_CAUSE if result.permanent else "SEND_ERROR"
                    delivery.hangup_cause = cause
                    transition(
                        session,
                        delivery,
                        S.FAILED,
                        event="message.failed",
                        clock=self.clock,
                        error=str(result)[:200],
                    )
                    schedule_retry(session, delivery, S.FAILED, cause, self.clock, self.settings)
                else:
                    delivery.provider = result.provider
                    delivery.provider_id = result.provider_id
                    transition(
                        session,
                        delivery,
                        S.SENT,
                        event="message.sent",
                        clock=self.clock,
                        provider=result.provider,
                        provider_id=result.provider_id,
                    )
            session.commit()
        return len(results)


class PacingLoop:
    """`DialerWorker.run` in a thread of its own, for a process that does other things too.

    `start()` connects the backend in the caller's thread, so a dead AMI or a wrong Twilio
    account fails there, loudly, before the loop runs.
    """

    def __init__(self, worker: DialerWorker, *, name: str = "dialer-pacing"):
        self.worker = worker
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PacingLoop:
        self.worker.start()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.worker.run, args=(self._stop,), name=self.name, daemon=True
        )
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the loop after its current tick; the worker stops its backend on the way out."""
        self._stop.set()
        self.worker.wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log_event(
                    logger,
                    "dialer.loop_did_not_stop",
                    logging.ERROR,
                    worker=self.worker.worker_id,
                    waited_s=timeout_s,
                )
            self._thread = None
        self.worker.stop()
