"""The Asterisk adapter of the CallBackend port: calls placed and followed over AMI (pyst2).

How a call is followed, without ever relying on the order of events:
- Every call attempt gets our own id, `bn-<delivery id>-<random>`. It is the Originate's
  ActionID *and* the originated channel's Uniqueid (Originate `ChannelId`), so every event of
  that channel names the delivery it belongs to, even after a restart of the platform.
- One AMI connection receives events (call, user, dtmf, agi); `ami_connections` further
  connections, with events off, send the Originates. pyst2's `send_action` waits for each
  response, so one connection sustains a few dozen originates a second; several share the load.
- Events map onto CallEvents: Newstate Ringing -> RINGING; Newstate Up -> ANSWERED at once
  (the row is `answered` while detection still listens); the dialplan's AMD UserEvent ->
  MACHINE, or a second ANSWERED carrying the person's verdict (`amd_status`); DTMFEnd -> DTMF
  (the alert flow acts on a key pressed during detection); Hangup / a failed
  OriginateResponse -> COMPLETED, BUSY, NO_ANSWER or FAILED with the Q.850 cause. An answered
  call whose channel reports no cause (0: Asterisk ended it itself, as after the IVR's
  HANGUP) ended normally: NORMAL_CLEARING. Who ended it goes along (`hangup_by`: the IVR
  when its HANGUP ran last, else the participant; unanswered calls are judged by the
  dialer). Each call gets one terminal event; every event carries an `event_key`, so a
  duplicate is recognisable downstream too.
- When a link drops, it is reconnected with backoff. After the event link comes back, the calls
  in flight are reconciled: those still up are listed by CoreShowChannels; for those that ended
  while we were deaf, the dialplan's hangup handler left `<cause>|<answered>|<amd>` in AstDB
  (families burgernet-calls-0..5, one per hour, which the dialplan empties itself: the AMI user
  cannot write AstDB), which we read. Nothing is lost, nothing counted twice.

What the PBX enforces (config/asterisk/): calls go out as `Local/<number>@burgernet-out`
(setting `dial_template`), where the dialplan counts every leg on the trunk and refuses calls
beyond its limit; the answered side runs `originate_context` with `TIMEOUT(absolute)` from
BURGERNET_MAX_CALL_S; the Originate's Account (the CDR's accountcode) is the delivery id. The
AMI user may originate, hang up and read (no `system`): the events it receives are limited by
manager.conf's eventfilter to the platform's calls, and the link can run over TLS (`ami_tls`).

Availability (the dialer's circuit breaker asks `unavailable_reason()` before each batch):
- "geen AMI-verbinding" while the event link or every originate link is down; the links are
  retried every few hundred milliseconds, so a PBX that comes back is used within a second.
- "Asterisk wordt afgesloten/herstart" from AMI's Shutdown event (or an Originate refused
  because Asterisk is shutting down) until the links are back and Asterisk answers again.
  `originate` raises `BackendUnavailable` meanwhile: nothing was handed over, no attempt spent.
- An answered call that the PBX ended (a Shutdown while it was up, or Asterisk found restarted
  when the link came back: its CoreStatus startup time changed) ends FAILED with cause
  CALL_CUT; one whose IVR could not run (the dialplan's fallback: UserEvent BurgernetFallback,
  or `fallback` in the hangup record) with cause IVR_FALLBACK. `deliveries.events` turns them
  back into COMPLETED when the alert flow had already recorded that the message was heard.
"""

from __future__ import annotations

import itertools
import logging
import queue
import re
import secrets
import socket
import ssl
import string
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from asterisk.manager import Manager, ManagerException, ManagerMsg, ManagerSocketException

from config.clock import Clock, SystemClock
from config.logging import log_event
from config.settings import AsteriskSettings
from deliveries.call_backend import (
    CALL_CUT,
    IVR_FALLBACK,
    BackendUnavailable,
    CallEvent,
    CallEventType,
    CallRequest,
    EventSink,
    OriginateError,
)

logger = logging.getLogger(__name__)

PROVIDER = "asterisk"
CALL_ID_PREFIX = "bn-"
DB_FAMILY = "burgernet-calls"  # + "-<hour since 1970 mod DB_BUCKETS>" (burgernet-hangup)
DB_BUCKETS = 6
CALL_ID = re.compile(r"bn-(\d+)-[a-z]{10}")
HANGUP_HANDLER = "burgernet-hangup,s,1"  # commas escaped by ami_variable()
EVENT_CLASSES = "call,user,dtmf,agi,system"  # manager.conf's eventfilter narrows them further
NO_LINK = "geen AMI-verbinding"
SHUTTING_DOWN = "Asterisk wordt afgesloten/herstart"
REFUSED_PROBE_S = 2.0  # after an Originate refused for a shutdown, try again this much later
# Asterisk hangs its channels up before it sends Shutdown (and refuses Originates meanwhile):
# an answered call that ends without the IVR's own HANGUP is held this long, in case the PBX is
# going down under it. A call the IVR ended is reported at once.
SHUTDOWN_GRACE_S = 2.0

# Q.850 causes Asterisk reports on Hangup.
CAUSE_BUSY = {17}
CAUSE_NO_ANSWER = {18, 19, 31}  # no user responding, no answer, or our dial timeout (normal, unspecified)
# Asterisk's names for them (ast_cause2str), which the retry policy also knows.
CAUSE_NAMES = {
    0: "UNKNOWN",
    1: "UNALLOCATED",
    3: "NO_ROUTE_DESTINATION",
    16: "NORMAL_CLEARING",
    17: "USER_BUSY",
    18: "NO_USER_RESPONSE",
    19: "NO_ANSWER",
    21: "CALL_REJECTED",
    27: "DESTINATION_OUT_OF_ORDER",
    28: "INVALID_NUMBER_FORMAT",
    31: "NORMAL_UNSPECIFIED",
    34: "NORMAL_CIRCUIT_CONGESTION",
    38: "NETWORK_OUT_OF_ORDER",
    41: "NORMAL_TEMPORARY_FAILURE",
    42: "SWITCH_CONGESTION",
    127: "INTERWORKING",
}
# OriginateResponse Reason codes (AST_CONTROL_*) of a call that never got answered.
ORIGINATE_REASON_EVENT = {
    3: (CallEventType.NO_ANSWER, "NO_ANSWER"),
    5: (CallEventType.BUSY, "USER_BUSY"),
    8: (CallEventType.FAILED, "NORMAL_CIRCUIT_CONGESTION"),
}


class AmiError(RuntimeError):
    """The AMI refused an action or could not be reached."""


def ami_variable(name: str, value: object) -> str:
    """One `Variable:` header value of an Originate. AMI splits the header on commas and ends
    it at a line break, so commas are escaped and line breaks become spaces."""
    text = " ".join(str(value).splitlines())
    return f"{name}={text.replace(',', chr(92) + ',')}"


_TOKEN_LETTERS = 10


def call_id_for(delivery_id: int) -> str:
    # Letters only after the delivery id, so log masking never mistakes it for a phone number:
    # ten uniform random lowercase letters, drawn as one number (one call to `secrets`).
    number = secrets.randbelow(len(string.ascii_lowercase) ** _TOKEN_LETTERS)
    letters = []
    for _ in range(_TOKEN_LETTERS):
        number, index = divmod(number, len(string.ascii_lowercase))
        letters.append(string.ascii_lowercase[index])
    return f"{CALL_ID_PREFIX}{delivery_id}-{''.join(letters)}"


def delivery_id_from(call_id: str) -> int | None:
    """`bn-42-abcdefghij` -> 42; None for channels that are not ours (the trunk side of a
    Local channel, `bn-42-abcdefghij;2`, is not the call either)."""
    match = CALL_ID.fullmatch(call_id)
    return int(match.group(1)) if match else None


def hangup_record_families(epoch_s: float) -> list[str]:
    """The AstDB families the dialplan's hangup handler may have written a record to, the
    current hour's first (burgernet-calls-<hour since 1970 mod 6>)."""
    hour = int(epoch_s // 3600)
    return [f"{DB_FAMILY}-{(hour - back) % DB_BUCKETS}" for back in range(DB_BUCKETS)]


def cause_name(cause: int | None) -> str:
    if cause is None:
        return "UNKNOWN"
    return CAUSE_NAMES.get(cause, f"CAUSE_{cause}")


def unanswered_outcome(cause: int | None) -> CallEventType:
    """What an unanswered call that ended with this Q.850 cause means for the delivery."""
    if cause in CAUSE_BUSY:
        return CallEventType.BUSY
    if cause in CAUSE_NO_ANSWER or cause == 16:
        # 16 before answer: the phone stopped ringing without answering (dial timeout).
        return CallEventType.NO_ANSWER
    return CallEventType.FAILED


def parse_hangup_record(value: str) -> tuple[int | None, bool, str]:
    """The hangup handler's AstDB value `<cause>|<answered|unanswered>|<amd status>[|fallback]`."""
    parts = (value.split("|") + ["", "", ""])[:3]
    cause = int(parts[0]) if parts[0].strip().isdigit() else None
    return cause, parts[1] == "answered", parts[2].strip()


def hangup_record_fallback(value: str) -> bool:
    """Did the call of this hangup record end in the dialplan's fallback (4th field `1`)?"""
    parts = value.split("|")
    return len(parts) > 3 and parts[3].strip() == "1"


NORMAL_CLEARING = 16


def _ivr_hung_up(call: CallInFlight) -> bool:
    """Was the IVR's HANGUP the last AGI command on the channel?"""
    return str(call.detail.get("agi", "")).strip().upper().startswith("HANGUP")


@dataclass
class CallInFlight:
    call_id: str
    delivery_id: int
    originated_at: float  # monotonic
    channel: str | None = None
    ringing: bool = False
    answered: bool = False
    answered_sent: bool = False  # ANSWERED reported (at the answer, before detection ends)
    person_or_machine_sent: bool = False
    dtmf_count: int = 0
    confirmed: bool = True  # False while we do not know whether the Originate reached Asterisk
    attempt: int | None = None
    failed_reason: int | None = None  # OriginateResponse Failure, waiting for the Hangup
    failed_deadline: float | None = None
    # An answered call that ended without the IVR's HANGUP (the participant hung up, or
    # Asterisk is going down) waits until this deadline for a Shutdown before it is reported.
    ended_cause: int | None = None
    ended_deadline: float | None = None
    detail: dict = field(default_factory=dict)


class BufferedManager(Manager):
    """pyst2's Manager reads its socket unbuffered, one recv() per byte: too slow for a wave's
    event stream. Same connect(), with a buffered socket file."""

    tls: ssl.SSLContext | None = None  # AMI over TLS when set (settings ami_tls)

    def connect(self, host, port=5038):
        if self._connected.is_set():
            raise ManagerException("Already connected to manager")
        try:
            raw = socket.create_connection((host, int(port)), timeout=10)
            if self.tls is not None:
                raw = self.tls.wrap_socket(raw, server_hostname=host)
            raw.settimeout(None)
            self._sock = raw.makefile(mode="rwb", buffering=65536)
            raw.close()  # the file keeps the socket open
        except OSError as exc:
            raise ManagerSocketException(exc.errno, exc.strerror or str(exc)) from exc
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        return self._response_queue.get()


def tls_context(settings: AsteriskSettings) -> ssl.SSLContext | None:
    """The TLS context of the AMI links (settings ami_tls, ami_tls_ca_file), or None."""
    if not settings.ami_tls:
        return None
    return ssl.create_default_context(cafile=settings.ami_tls_ca_file or None)


class AmiLink:
    """One pyst2 Manager connection; replaced by a fresh one on reconnect (pyst2 cannot reuse)."""

    def __init__(self, settings: AsteriskSettings, name: str, events: str, on_event=None):
        self.settings = settings
        self.name = name
        self.events = events
        self.on_event = on_event
        self.manager: Manager | None = None
        self.lock = threading.Lock()  # pyst2's send_action is not safe for concurrent callers
        self.sent = 0

    def connect(self) -> None:
        manager = BufferedManager()
        manager.tls = tls_context(self.settings)
        try:
            manager.connect(self.settings.ami_host, self.settings.ami_port)
            response = manager.send_action(
                {
                    "Action": "Login",
                    "Username": self.settings.ami_username,
                    "Secret": self.settings.ami_secret,
                    "Events": self.events,
                }
            )
        except ManagerException as exc:
            _close_quietly(manager)
            raise AmiError(f"AMI {self.settings.ami_host}:{self.settings.ami_port}: {exc}") from exc
        if response.get_header("Response") != "Success":
            _close_quietly(manager)
            raise AmiError(f"AMI login refused: {response.get_header('Message')}")
        if self.on_event is not None:
            manager.register_event("*", self.on_event)
        self.manager = manager

    @property
    def connected(self) -> bool:
        return self.manager is not None and self.manager.connected()

    def send(self, action: dict) -> ManagerMsg:
        manager = self.manager
        if manager is None or not manager.connected():
            raise AmiError(f"AMI link {self.name} is down")
        with self.lock:
            self.sent += 1
            return manager.send_action(dict(action))

    def close(self) -> None:
        manager, self.manager = self.manager, None
        if manager is not None:
            _close_quietly(manager)


def _close_quietly(manager: Manager) -> None:
    try:
        if manager.connected():
            manager.close()
        else:
            manager._running.clear()  # pyst2 has no public way to stop a dead link's threads
            manager._message_queue.put(None)
    except (ManagerException, OSError):
        pass


class AsteriskBackend:
    """CallBackend over AMI. See the module docstring for how calls are correlated."""

    name = PROVIDER

    def __init__(
        self,
        settings: AsteriskSettings,
        *,
        caller_id: str,
        clock: Clock | None = None,
        # Short: a closed port answers at once, and a PBX back from a restart should carry
        # calls again within a second.
        reconnect_delays_s: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5),
        unknown_call_grace_s: float = 5.0,
        adopt_foreign_calls: bool = False,
        hangup_wait_s: float = 2.0,
    ):
        if settings.ami_connections < 1:
            raise ValueError("asterisk.ami_connections must be at least 1")
        self.settings = settings
        self.caller_id = caller_id
        self.clock = clock or SystemClock()
        self.reconnect_delays_s = reconnect_delays_s
        self.unknown_call_grace_s = unknown_call_grace_s
        # Follow `bn-` calls this process did not place (after a restart of the platform)?
        # Off by default: several platform processes may share one PBX.
        self.adopt_foreign_calls = adopt_foreign_calls
        self.hangup_wait_s = hangup_wait_s
        self._sink: EventSink | None = None
        self._lock = threading.RLock()
        self._calls: dict[str, CallInFlight] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._event_link = AmiLink(settings, "events", EVENT_CLASSES, self._on_ami_event)
        self._originate_links = [
            AmiLink(settings, f"originate-{i}", "off") for i in range(settings.ami_connections)
        ]
        self._round_robin = itertools.count()
        self._collectors: dict[str, queue.Queue] = {}
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.reconnects = 0
        self.reconciled = 0
        self._shutting_down = False  # AMI said Shutdown; cleared when the links are back
        self._refusing_until = 0.0  # an Originate was refused for a shutdown: wait until then
        self._startup: str | None = None  # CoreStatus startup stamp: changes when Asterisk restarts
        self._down_since: float | None = None  # monotonic time the link was lost
        self.last_outage_s: float | None = None  # how long the last loss of the link lasted
        self.outages = 0

    # ---- the port --------------------------------------------------------------------------

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        for link in [self._event_link, *self._originate_links]:
            link.connect()
        self._startup = self._startup_stamp()
        self._stopping.clear()
        self._supervisor = threading.Thread(
            target=self._supervise, name="asterisk-ami-supervisor", daemon=True
        )
        self._supervisor.start()
        log_event(logger, "asterisk.started", links=len(self._originate_links))

    def unavailable_reason(self) -> str | None:
        if self._shutting_down or time.monotonic() < self._refusing_until:
            return SHUTTING_DOWN
        if not self._event_link.connected or not any(link.connected for link in self._originate_links):
            return NO_LINK
        return None

    def originate(self, request: CallRequest) -> str | None:
        if self._sink is None:
            raise OriginateError("Asterisk backend not started")
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(reason)
        call_id = call_id_for(request.delivery_id)
        variables = {
            "BURGERNET_DELIVERY_ID": str(request.delivery_id),
            "BURGERNET_FLOW": request.flow,
            # Overrides the dialplan's global, so the settings decide where the IVR runs.
            "BURGERNET_FASTAGI": f"{self.settings.fastagi_host}:{self.settings.fastagi_port}",
            "CHANNEL(hangup_handler_push)": HANGUP_HANDLER,
            # The dialer's extras become BURGERNET_ATTEMPT, BURGERNET_ACTION_ID and
            # BURGERNET_MAX_CALL_S (the dialplan's TIMEOUT(absolute)).
            **{f"BURGERNET_{key.upper()}": value for key, value in request.variables.items()},
        }
        number = request.number.lstrip("+")
        action = {
            "Action": "Originate",
            "ActionID": call_id,
            "ChannelId": call_id,
            "Channel": self.settings.dial_template.format(number=number),
            "Context": self.settings.originate_context,
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(int(request.timeout_s * 1000)),
            "CallerID": f'"Burgernet" <{request.caller_id or self.caller_id}>',
            # The CDR's accountcode, inherited by every leg of the call: the delivery.
            "Account": str(request.delivery_id),
            "Async": "true",
            "Variable": [ami_variable(k, v) for k, v in variables.items()],
        }
        call = CallInFlight(call_id, request.delivery_id, self.clock.monotonic())
        attempt = request.variables.get("attempt")
        if attempt and attempt.isdigit():
            call.attempt = int(attempt)  # lets the dialer drop a late event of an earlier attempt
        with self._lock:
            self._calls[call_id] = call  # before sending: its events may beat the response
        link = self._pick_link()
        if link is None:
            self._forget(call_id)
            raise BackendUnavailable(NO_LINK)
        try:
            response = link.send(action)
        except ManagerSocketException as exc:
            if exc.args and exc.args[0] == 0:
                # The request went out but the link died before the answer: Asterisk may have
                # placed the call. Keep it; reconciliation after the reconnect decides.
                call.confirmed = False
                log_event(logger, "asterisk.originate_unconfirmed", call_id=call_id)
                return call_id
            self._forget(call_id)
            raise BackendUnavailable(f"{NO_LINK} ({link.name}: {exc})") from exc
        except AmiError as exc:  # the link was down before anything was sent
            self._forget(call_id)
            raise BackendUnavailable(f"{NO_LINK} ({exc})") from exc
        except ManagerException as exc:
            self._forget(call_id)
            raise OriginateError(str(exc)) from exc
        if response.get_header("Response") != "Success":
            self._forget(call_id)
            message = response.get_header("Message") or ""
            if "shutting down" in message.lower():
                self._refusing_until = time.monotonic() + REFUSED_PROBE_S
                log_event(logger, "asterisk.refusing_calls", level=logging.WARNING, message=message)
                raise BackendUnavailable(SHUTTING_DOWN)
            raise OriginateError(f"Asterisk refused the Originate: {message}")
        return call_id

    def hangup(self, delivery_id: int, provider_id: str | None) -> None:
        """Hang the call up. A call this process does not follow (placed before a restart,
        or declared stale by the dialer) is looked up among the PBX's channels by its id."""
        with self._lock:
            call = self._calls.get(provider_id or "")
            channel = call.channel if call else None
        try:
            if channel is None and provider_id and CALL_ID.fullmatch(provider_id):
                channel = self._channel_of(provider_id)
            if channel is None:
                log_event(
                    logger, "asterisk.hangup_unknown_call", delivery_id=delivery_id, call_id=provider_id
                )
                return
            self._event_link.send({"Action": "Hangup", "Channel": channel, "Cause": "16"})
            log_event(logger, "asterisk.hangup", delivery_id=delivery_id, call_id=provider_id)
        except (AmiError, ManagerException) as exc:
            log_event(
                logger,
                "asterisk.hangup_failed",
                level=logging.WARNING,
                delivery_id=delivery_id,
                error=str(exc),
            )

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        self._settle_ended_calls(float("inf"))  # calls held for the shutdown grace end now
        for link in [self._event_link, *self._originate_links]:
            link.close()
        log_event(logger, "asterisk.stopped")

    # ---- introspection (benchmark, tests) --------------------------------------------------

    def in_flight(self) -> int:
        with self._lock:
            return len(self._calls)

    def originates_per_link(self) -> dict[str, int]:
        return {link.name: link.sent for link in self._originate_links}

    # ---- links -----------------------------------------------------------------------------

    def _pick_link(self) -> AmiLink | None:
        links = self._originate_links
        start = next(self._round_robin)
        for i in range(len(links)):
            link = links[(start + i) % len(links)]
            if link.connected:
                return link
        return None

    def _supervise(self) -> None:
        attempts: dict[str, int] = {}
        next_try: dict[str, float] = {}
        recheck_at: float | None = None
        while not self._stopping.wait(0.05):
            now = time.monotonic()
            if self._down_since is None and not self._all_links_up():
                self._down_since = now
            for link in [self._event_link, *self._originate_links]:
                if link.connected:
                    attempts.pop(link.name, None)
                    next_try.pop(link.name, None)
                    continue
                if link.name not in next_try:  # just noticed: wait the first delay
                    log_event(logger, "asterisk.link_down", level=logging.WARNING, link=link.name)
                    next_try[link.name] = now + self.reconnect_delays_s[0]
                    continue
                if now < next_try[link.name]:
                    continue
                n = attempts.get(link.name, 0)
                attempts[link.name] = n + 1
                next_try[link.name] = (
                    now + self.reconnect_delays_s[min(n + 1, len(self.reconnect_delays_s) - 1)]
                )
                link.close()
                try:
                    link.connect()
                except AmiError as exc:
                    log_event(
                        logger,
                        "asterisk.reconnect_failed",
                        level=logging.WARNING,
                        link=link.name,
                        attempt=n + 1,
                        error=str(exc),
                    )
                    continue
                self.reconnects += 1
                next_try.pop(link.name, None)
                attempts.pop(link.name, None)
                log_event(logger, "asterisk.reconnected", link=link.name, attempt=n + 1)
                if link is self._event_link:
                    self._after_event_link_back()
                    recheck_at = self._reconcile_safely()
            if self._down_since is not None and self._all_links_up():
                self._link_restored(time.monotonic())
            if recheck_at is not None and now >= recheck_at and self._event_link.connected:
                recheck_at = self._reconcile_safely()
            self._settle_failed_originates(now)
            self._settle_ended_calls(now)

    def _all_links_up(self) -> bool:
        return all(link.connected for link in [self._event_link, *self._originate_links])

    def _startup_stamp(self) -> str | None:
        """When this Asterisk started (CoreStatus), to recognise a restart behind a reconnect."""
        try:
            response = self._event_link.send({"Action": "CoreStatus"})
        except (AmiError, ManagerException):
            return None
        if response.get_header("Response") != "Success":
            return None
        return f"{response.get_header('CoreStartupDate', '')} {response.get_header('CoreStartupTime', '')}"

    def _after_event_link_back(self) -> None:
        """Asterisk answers again. If it restarted meanwhile, every answered call of ours was
        cut by the restart (the reconciliation that follows settles them as CALL_CUT)."""
        stamp = self._startup_stamp()
        restarted = self._shutting_down or (
            stamp is not None and self._startup is not None and stamp != self._startup
        )
        if stamp is not None:
            self._startup = stamp
        if restarted:
            self._mark_answered_calls_cut("pbx_restart")
            log_event(logger, "asterisk.restarted", level=logging.WARNING)
        self._shutting_down = False
        self._refusing_until = 0.0

    def _link_restored(self, now: float) -> None:
        down_since, self._down_since = self._down_since, None
        if down_since is None:
            return
        self.outages += 1
        self.last_outage_s = round(now - down_since, 3)
        log_event(logger, "asterisk.link_restored", down_s=self.last_outage_s, outages=self.outages)

    def _mark_answered_calls_cut(self, why: str) -> int:
        with self._lock:
            calls = [c for c in self._calls.values() if c.answered]
            for call in calls:
                call.detail.setdefault("cut", why)
        return len(calls)

    def _on_shutdown(self, event) -> None:
        self._shutting_down = True
        cut = self._mark_answered_calls_cut("pbx_shutdown")
        log_event(
            logger,
            "asterisk.shutdown",
            level=logging.WARNING,
            restart=event.get_header("Restart", ""),
            shutdown=event.get_header("Shutdown", ""),
            answered_calls=cut,
        )

    def _settle_ended_calls(self, now: float) -> None:
        with self._lock:
            due = [
                c for c in self._calls.values() if c.ended_deadline is not None and c.ended_deadline <= now
            ]
        for call in due:
            if self._shutting_down or now < self._refusing_until or not self._event_link.connected:
                call.detail.setdefault("cut", "pbx_shutdown")
            call.ended_deadline = None
            self._finish(call, call.ended_cause, source="hangup")

    def _settle_failed_originates(self, now: float) -> None:
        with self._lock:
            due = [
                c for c in self._calls.values() if c.failed_deadline is not None and c.failed_deadline <= now
            ]
        for call in due:
            reason = call.failed_reason or 0
            kind, why = ORIGINATE_REASON_EVENT.get(
                reason, (CallEventType.FAILED, f"ORIGINATE_REASON_{reason}")
            )
            self._emit_terminal(call, kind, why, None, source="originate_response")

    def _reconcile_safely(self) -> float | None:
        try:
            return self.reconcile()
        except (AmiError, ManagerException) as exc:
            log_event(logger, "asterisk.reconcile_failed", level=logging.WARNING, error=str(exc))
            return time.monotonic() + 1.0

    # ---- reconciliation --------------------------------------------------------------------

    def reconcile(self) -> float | None:
        """Settle calls whose events may have been missed. Returns when to look again (calls
        too young to judge), or None."""
        channels = self._list_action(
            {"Action": "CoreShowChannels"}, "CoreShowChannel", "CoreShowChannelsComplete"
        )
        up = {ev.get_header("Uniqueid", ev.get_header("UniqueID")): ev for ev in channels}
        with self._lock:
            calls = list(self._calls.values())
        recheck = False
        for call in calls:
            present = up.get(call.call_id)
            if present is not None:
                call.confirmed = True
                call.channel = present.get_header("Channel") or call.channel
                state = present.get_header("ChannelStateDesc", "")
                if state == "Up":
                    call.answered = True
                    # The fallback's UserEvent may also have come while we were deaf.
                    if not call.detail.get("fallback") and self._channel_variable(
                        call.channel, "BURGERNET_FALLBACK"
                    ):
                        call.detail["fallback"] = True
                    if not call.person_or_machine_sent:
                        # The AMD UserEvent may have come while we were deaf; the dialplan
                        # also keeps the result in a channel variable.
                        amd = self._channel_variable(call.channel, "BURGERNET_AMD")
                        if amd:
                            self._amd_result(call, amd, "reconciled")
                elif state == "Ringing":
                    self._ringing(call)
                continue
            record = self._db_get(call.call_id)
            if record is not None:
                cause, answered, amd = parse_hangup_record(record)
                if hangup_record_fallback(record):
                    call.detail["fallback"] = True
                if answered:
                    call.answered = True
                    if amd:
                        self._amd_result(call, amd, "reconciled")
                self._finish(call, cause, source="reconciled")
                self.reconciled += 1
            elif self.clock.monotonic() - call.originated_at < self.unknown_call_grace_s:
                recheck = True  # the Originate may still be on its way to a channel
            else:
                self._emit_terminal(call, CallEventType.FAILED, "ORIGINATE_LOST", None, source="reconciled")
                self.reconciled += 1
        log_event(logger, "asterisk.reconciled", calls=len(calls), up=len(up))
        return time.monotonic() + 1.0 if recheck else None

    def _channel_of(self, call_id: str) -> str | None:
        """The channel name of a call still up on the PBX, by its Uniqueid."""
        channels = self._list_action(
            {"Action": "CoreShowChannels"}, "CoreShowChannel", "CoreShowChannelsComplete"
        )
        for ev in channels:
            if ev.get_header("Uniqueid", ev.get_header("UniqueID")) == call_id:
                return ev.get_header("Channel") or None
        return None

    def _list_action(self, action: dict, item_event: str, complete_event: str) -> list:
        action_id = f"bn-list-{secrets.token_hex(6)}"
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._collectors[action_id] = inbox
        try:
            response = self._event_link.send({**action, "ActionID": action_id})
            if response.get_header("Response") == "Error":
                raise AmiError(f"{action['Action']}: {response.get_header('Message')}")
            items: list = []
            deadline = time.monotonic() + 10
            while True:
                try:
                    ev = inbox.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty as exc:
                    raise AmiError(f"{action['Action']}: no {complete_event} in 10 s") from exc
                if ev.name == complete_event:
                    return items
                if ev.name == item_event:
                    items.append(ev)
        finally:
            with self._lock:
                self._collectors.pop(action_id, None)

    def _db_get(self, call_id: str) -> str | None:
        """The hangup record of `call_id`, from whichever hour's family holds it."""
        for family in hangup_record_families(self.clock.now().timestamp()):
            value = self._db_get_one(family, call_id)
            if value is not None:
                return value
        return None

    def _db_get_one(self, family: str, call_id: str) -> str | None:
        action_id = f"bn-db-{secrets.token_hex(6)}"
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._collectors[action_id] = inbox
        try:
            response = self._event_link.send(
                {"Action": "DBGet", "Family": family, "Key": call_id, "ActionID": action_id}
            )
            if response.get_header("Response") != "Success":
                return None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    ev = inbox.get(timeout=0.5)
                except queue.Empty:
                    continue
                if ev.name == "DBGetResponse":
                    return ev.get_header("Val", "")
                if ev.name == "DBGetComplete":
                    return None
            raise AmiError(f"DBGet {call_id}: no answer in 5 s")
        finally:
            with self._lock:
                self._collectors.pop(action_id, None)

    def _channel_variable(self, channel: str | None, name: str) -> str | None:
        if not channel:
            return None
        response = self._event_link.send({"Action": "Getvar", "Channel": channel, "Variable": name})
        if response.get_header("Response") != "Success":
            return None
        return (response.get_header("Value") or "").strip() or None

    # ---- events ----------------------------------------------------------------------------

    def _on_ami_event(self, event, manager) -> None:
        try:
            self._handle(event)
        except Exception:
            logger.exception("asterisk.event_handler_failed event=%s", event.name)

    def _handle(self, event) -> None:
        action_id = event.get_header("ActionID")
        if action_id:
            with self._lock:
                inbox = self._collectors.get(action_id)
            if inbox is not None:
                inbox.put(event)
                return
        name = event.name
        if name == "Shutdown":
            self._on_shutdown(event)
            return
        if name == "OriginateResponse":
            call = self._call(action_id or "")
            if call is None:
                return
            if event.get_header("Response") == "Success":
                call.confirmed = True
                call.channel = event.get_header("Channel") or call.channel
                return
            # The channel's Hangup, which usually follows, has the precise cause (a busy phone
            # gives Reason 0 here but cause 17 there); the reason is the answer only when no
            # Hangup comes, as when the channel could not even be created.
            reason = int(event.get_header("Reason", "0") or 0)
            with self._lock:
                call.failed_reason = reason
                call.failed_deadline = time.monotonic() + self.hangup_wait_s
            return
        uniqueid = event.get_header("Uniqueid") or ""
        call = self._call(uniqueid)
        if call is None:
            return
        if event.get_header("Channel"):
            call.channel = event.get_header("Channel")
        if name == "Newstate":
            state = event.get_header("ChannelStateDesc", "")
            if state == "Ringing":
                self._ringing(call)
            elif state == "Up":
                call.answered = True
                self._answered(call)
        elif name == "UserEvent":
            kind = event.get_header("UserEvent", "")
            if kind == "BurgernetAMD":
                call.answered = True
                self._amd_result(call, event.get_header("Status", ""), event.get_header("Cause", ""))
            elif kind == "BurgernetFallback":
                call.detail["fallback"] = True
                log_event(
                    logger,
                    "asterisk.fallback",
                    level=logging.WARNING,
                    delivery_id=call.delivery_id,
                    call_id=call.call_id,
                )
        elif name == "DTMFEnd":
            if event.get_header("Direction") == "Received":
                digit = event.get_header("Digit", "")
                with self._lock:
                    call.dtmf_count += 1
                    n = call.dtmf_count
                self._emit(call, CallEventType.DTMF, digits=digit, key_suffix=str(n))
        elif name in ("AGIExecStart", "AGIExecEnd"):
            call.detail["agi"] = event.get_header("Command", "")
        elif name == "Hangup":
            text = event.get_header("Cause")
            cause = int(text) if text and text.isdigit() else None
            settled = call.detail.get("fallback") or call.detail.get("cut")
            if call.answered and not settled and not _ivr_hung_up(call) and call.ended_deadline is None:
                # Not the IVR's own end: the participant hung up, or the PBX is going down
                # (it hangs channels up before its Shutdown event). Decide shortly.
                call.ended_cause = cause
                call.ended_deadline = time.monotonic() + SHUTDOWN_GRACE_S
                return
            self._finish(call, cause, source="hangup")

    def _call(self, call_id: str) -> CallInFlight | None:
        if CALL_ID.fullmatch(call_id) is None:  # not ours, or the trunk side of a Local channel
            return None
        with self._lock:
            call = self._calls.get(call_id)
            if call is None and self.adopt_foreign_calls and call_id not in self._finished:
                # A call of ours this process did not place (e.g. before a restart).
                delivery_id = delivery_id_from(call_id)
                if delivery_id is None:
                    return None
                call = CallInFlight(call_id, delivery_id, self.clock.monotonic())
                self._calls[call_id] = call
            return call

    def _ringing(self, call: CallInFlight) -> None:
        with self._lock:
            if call.ringing or call.answered:
                return
            call.ringing = True
        self._emit(call, CallEventType.RINGING)

    def _answered(self, call: CallInFlight) -> None:
        """The phone answered: the row is `answered` now, whatever detection says later."""
        with self._lock:
            if call.answered_sent:
                return
            call.answered_sent = True
        self._emit(call, CallEventType.ANSWERED)

    def _amd_result(self, call: CallInFlight, status: str, cause: str) -> None:
        with self._lock:
            if call.person_or_machine_sent:
                return
            call.person_or_machine_sent = True
        self._answered(call)
        if status.upper() == "MACHINE":
            self._emit(call, CallEventType.MACHINE, detail={"amd_status": status, "amd_cause": cause})
        else:  # the verdict on a call already answered: recorded with the row
            self._emit(
                call,
                CallEventType.ANSWERED,
                detail={"amd_status": status or "NONE", "amd_cause": cause},
                key_suffix="amd",
            )

    def _finish(self, call: CallInFlight, cause: int | None, source: str) -> None:
        if call.answered:
            # A person or machine answered; if detection never reported, it was a person to us.
            self._amd_result(call, "", "no_detection")
            if call.detail.get("fallback"):  # the IVR could not run: an apology, not the alert
                self._emit_terminal(call, CallEventType.FAILED, IVR_FALLBACK, cause, source)
            elif call.detail.get("cut"):  # the PBX went down under the call
                self._emit_terminal(call, CallEventType.FAILED, CALL_CUT, cause, source)
            else:
                if not cause:  # no cause on an answered channel Asterisk itself ended
                    cause = NORMAL_CLEARING
                call.detail["hangup_by"] = "ivr" if _ivr_hung_up(call) else "participant"
                self._emit_terminal(call, CallEventType.COMPLETED, cause_name(cause), cause, source)
        else:
            kind = unanswered_outcome(cause)
            self._emit_terminal(call, kind, cause_name(cause), cause, source)

    def _emit_terminal(
        self, call: CallInFlight, kind: CallEventType, why: str, cause: int | None, source: str
    ) -> None:
        with self._lock:
            if call.call_id in self._finished:
                return
            self._calls.pop(call.call_id, None)
            self._finished[call.call_id] = None
            while len(self._finished) > 50_000:
                self._finished.popitem(last=False)
        self._emit(call, kind, hangup_cause=why, detail={"q850": cause, "source": source, **call.detail})

    def _emit(
        self,
        call: CallInFlight,
        kind: CallEventType,
        *,
        digits: str | None = None,
        hangup_cause: str | None = None,
        detail: dict | None = None,
        key_suffix: str = "",
    ) -> None:
        event = CallEvent(
            delivery_id=call.delivery_id,
            type=kind,
            provider=PROVIDER,
            provider_id=call.call_id,
            at=self.clock.now(),
            hangup_cause=hangup_cause,
            digits=digits,
            event_key=f"{call.call_id}:{kind.value}{':' + key_suffix if key_suffix else ''}",
            detail={**(detail or {}), **({"attempt": call.attempt} if call.attempt else {})},
        )
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:
            logger.exception("asterisk.sink_failed delivery_id=%s type=%s", call.delivery_id, kind.value)

    def _forget(self, call_id: str) -> None:
        with self._lock:
            self._calls.pop(call_id, None)
