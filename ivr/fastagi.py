"""The FastAGI server: Asterisk hands each answered call to it over TCP; it runs the flow.

Run it with `burgernet ivr serve` (host/port from settings `asterisk.fastagi_host/port`).

What the dialplan must do (config/asterisk/burgernet_extensions.conf does all of it)
---------------------------------------------------------------------------
- Alert calls (originated by the dialer with the channel variable `BURGERNET_DELIVERY_ID`):
  optionally `AMD()` and `Set(BURGERNET_AMD=${AMDSTATUS})` (MACHINE -> the machine path:
  `WaitForSilence` for the beep, then the message), then `AGI(agi://<host>:<port>/alert)`.
- Outcome calls (afloopbericht) and verification calls are originated like alert calls, with
  `BURGERNET_FLOW` set to `outcome` or `verification`: the same context runs
  `AGI(agi://<host>:<port>/${BURGERNET_FLOW})`. A verification call carries its code in
  `BURGERNET_CODE` (digits, optionally separated by spaces).
- The call-back number: `Answer()`, then `AGI(agi://<host>:<port>/callback)`. The caller is
  identified by `agi_callerid`, the control room by the dialed number (`agi_dnid`, else
  `agi_extension` when it is not `s`); with one control room configured, any number is it.
- The call-back line's queue: `[burgernet-queue]` (Queue() run by GOSUB, see
  ivr/agi_renderer.py) and `[burgernet-queue-answered]`, the subroutine app_queue runs on the
  centralist's channel when they take a caller: `AGI(agi://<host>:<port>/queue_answered)` with
  the caller's `BURGERNET_CALLER_UNIQUEID` (inherited). That script is a notice, not a flow: it
  marks the caller's row connected and returns at once (the channel goes on to the bridge).
- A subroutine `[burgernet-transfer]` with `s,1` that dials `${BURGERNET_TRANSFER_TARGET}` with
  timeout `${BURGERNET_TRANSFER_TIMEOUT}` and `Return()`s; the server runs it with the AGI
  command `GOSUB burgernet-transfer s 1` and then reads `DIALSTATUS`.
- A context `settings.asterisk.fallback_context` (default `burgernet-fallback`) with `s,1`
  that apologises and hangs up: on any error the server sets `BURGERNET_IVR_ERROR=1` and sends
  the channel there (SET CONTEXT / EXTENSION s / PRIORITY 1) instead of leaving dead air.
  The dialplan should also go there when `${AGISTATUS}` is FAILURE (server unreachable).
- Prompts and recordings: Asterisk must see `asterisk.sounds_dir` and `asterisk.recordings_dir`
  at the same paths as the platform (same machine, or a shared/bind-mounted directory).
  Recordings are moved from there into the platform's store (`settings.recordings_dir`).

Each connection gets its own thread, its own database session and its own pyst2 `AGI`; the
session gives its connection back to the pool while the channel plays, records or dials, so
hundreds of concurrent calls need only a few connections. A hangup is a normal end (a
recording in progress is still stored).

Limits (settings `asterisk.fastagi_*`): at most `max_sessions` connections at once, more are
refused at once and logged (`fastagi.refused`); a peer that does not send its headers within
`header_timeout_s`, does not answer a command in time, or sends a line longer than
`max_line_bytes` is dropped (`fastagi.bad_connection` before the call, `fastagi.dropped`
during it) and its socket closed, so idle or abusive connections hold neither a thread nor
memory for long.

Who may talk to it (settings `asterisk.fastagi_allowed_peers`, `fastagi_call_id_wait_s`): a
connection from an address outside the allow-list is closed before a word is read
(`fastagi.refused_peer`). A call that names a delivery (alert, outcome, verification) runs only
when its channel's `agi_uniqueid` is the call id the dialer stored for that delivery
(`Delivery.provider_id`, `bn-<delivery id>-<ten random letters>`): anyone else who reaches the
port cannot claim a delivery, press 9 and opt its participant out. The dialer stores the id
right after its originate batch, so the server waits up to `fastagi_call_id_wait_s` for it;
a call still without a match is refused (`fastagi.refused_call`) and sent to the fallback,
before the flow has any effect.

Faults: a database error inside a flow (the connection cut, the server restarting) sends that
call to the fallback and is logged; it never ends the server or another call. `ivr serve`
beats a heartbeat (`db.heartbeats`, role `ivr`) every few seconds with the calls in progress
(`ServerHeartbeat`); a beat that fails is logged and tried again at the next one.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, cast

from asterisk.agi import AGIException, AGIHangup
from sqlalchemy import select

from callback_line.queue import note_answered
from config.logging import log_event
from db.heartbeats import Heartbeat
from db.models import Delivery
from ivr.agi_renderer import (
    AgiRenderer,
    CallerHungUp,
    ChannelAGI,
    ChannelLimits,
    PeerMisbehaves,
    SocketLines,
)
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import CallEnv, Engine, Flow, FlowError, Scalar
from ivr.flows import flow_named
from ivr.verification_flow import code_digits

logger = logging.getLogger(__name__)


class UnknownScript(FlowError):
    pass


class CallNotOurs(FlowError):
    """The channel's uniqueid is not the call id stored for the delivery it names."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks(peers: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(peer, strict=False) for peer in peers)


def peer_allowed(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


@dataclass(frozen=True)
class CallStart:
    """How a script starts its flow from the AGI channel: the flow and its first context."""

    flow: Flow
    context: Callable[[ChannelAGI], Mapping[str, Scalar]]
    answered_by: Callable[[ChannelAGI], str | None] = lambda agi: None


def _alert_context(agi: ChannelAGI) -> dict[str, Scalar]:
    raw = (agi.get_variable("BURGERNET_DELIVERY_ID") or "").strip()
    if not raw.isdigit():
        raise FlowError(f"alert call without a valid BURGERNET_DELIVERY_ID ({raw!r})")
    return {"delivery_id": int(raw)}


def _amd_status(agi: ChannelAGI) -> str | None:
    return (agi.get_variable("BURGERNET_AMD") or "").strip() or None


def _verification_context(agi: ChannelAGI) -> dict[str, Scalar]:
    context = _alert_context(agi)
    context["code"] = code_digits(agi.get_variable("BURGERNET_CODE"))
    return context


def default_scripts() -> dict[str, CallStart]:
    return {
        "alert": CallStart(flow_named("alert"), _alert_context, _amd_status),
        "outcome": CallStart(flow_named("outcome"), _alert_context, _amd_status),
        "verification": CallStart(flow_named("verification"), _verification_context, _amd_status),
        "callback": CallStart(flow_named("callback"), lambda agi: {}),
    }


def script_name(env: Mapping[str, str]) -> str:
    """'alert' from agi_network_script 'alert', '/alert' or 'alert?x=1'."""
    return env.get("agi_network_script", "").strip("/").split("?", 1)[0]


def queue_answered(agi: ChannelAGI, session, clock) -> None:
    """A centralist's channel took a caller from the queue: the caller's row says connected."""
    caller = (agi.get_variable("BURGERNET_CALLER_UNIQUEID") or "").strip()
    member = re.sub(r"-[0-9a-fA-F]+$", "", agi.env.get("agi_channel", ""))
    note_answered(session, "asterisk", caller, member, clock.now())


# Scripts that only tell the platform something about another call, and return the channel to
# the dialplan (no flow, no hangup).
NOTICES: dict[str, Callable[[ChannelAGI, object, object], None]] = {"queue_answered": queue_answered}


class CallRunner:
    """Runs one call on one AGI channel: the engine's loop with the AGI renderer."""

    def __init__(self, settings, db, clock, scripts: Mapping[str, CallStart], sounds: AsteriskSounds):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.scripts = scripts
        self.sounds = sounds

    def run(self, agi: ChannelAGI) -> str:
        """Returns how the call ended: completed, hangup or fallback."""
        name = script_name(agi.env)
        unique_id = agi.env.get("agi_uniqueid", "")
        if name in NOTICES:
            return self._notice(name, agi)
        with self.db.session() as session:
            state = None
            try:
                start = self.scripts.get(name)
                if start is None:
                    raise UnknownScript(f"no AGI script {name!r}; known: {', '.join(sorted(self.scripts))}")
                engine = Engine(start.flow)
                env = CallEnv(
                    session=session,
                    clock=self.clock,
                    settings=self.settings,
                    provider="asterisk",
                    provider_call_id=unique_id or None,
                    caller_number=agi.env.get("agi_callerid"),
                    dialed_number=_dialed(agi),
                    answered_by=start.answered_by(agi),
                )
                renderer = AgiRenderer(agi, self.sounds, self.settings)
                context = start.context(agi)
                delivery_id = context.get("delivery_id")
                if isinstance(delivery_id, int):
                    self.check_call_id(session, delivery_id, unique_id)
                turn = engine.start(env, context)
                state = turn.state
                log_event(logger, "fastagi.call", script=name, uniqueid=unique_id, node=state.node)
                while True:
                    # Between turns the call holds no database connection: a prompt or a
                    # transfer may take minutes, and hundreds of calls share a small pool.
                    session.commit()
                    try:
                        happened = renderer.execute(turn.step)
                    except CallerHungUp as hung_up:
                        engine.hangup(turn.state, env, hung_up.last)
                        session.commit()
                        log_event(
                            logger, "fastagi.hangup", script=name, uniqueid=unique_id, node=turn.state.node
                        )
                        return "hangup"
                    if turn.step.final:
                        session.commit()
                        log_event(
                            logger, "fastagi.completed", script=name, uniqueid=unique_id, node=turn.state.node
                        )
                        return "completed"
                    turn = engine.resume(turn.state, happened, env)
                    state = turn.state
            except PeerMisbehaves as exc:
                # Too slow or a line too long: the link cannot be trusted for a fallback.
                _rollback_quietly(session)
                log_event(
                    logger,
                    "fastagi.dropped",
                    level=logging.WARNING,
                    script=name,
                    uniqueid=unique_id,
                    node=state.node if state else "",
                    error=f"{type(exc).__name__}: {exc}",
                )
                return "dropped"
            except CallNotOurs as exc:
                _rollback_quietly(session)
                log_event(
                    logger,
                    "fastagi.refused_call",
                    level=logging.WARNING,
                    script=name,
                    uniqueid=unique_id,
                    error=str(exc),
                )
                self.send_to_fallback(agi)
                return "refused"
            except AGIHangup:  # hung up before the flow began (reading channel variables)
                _rollback_quietly(session)
                log_event(logger, "fastagi.hangup", script=name, uniqueid=unique_id, node="")
                return "hangup"
            except Exception as exc:  # any failure, the database's too: never dead air
                _rollback_quietly(session)
                log_event(
                    logger,
                    "fastagi.error",
                    level=logging.ERROR,
                    script=name,
                    uniqueid=unique_id,
                    node=state.node if state else "",
                    error=f"{type(exc).__name__}: {exc}",
                )
                logger.debug("fastagi error detail", exc_info=True)
                self.send_to_fallback(agi)
                return "fallback"

    def _notice(self, name: str, agi: ChannelAGI) -> str:
        with self.db.session() as session:
            try:
                NOTICES[name](agi, session, self.clock)
                session.commit()
            except Exception as exc:  # a notice never disturbs the call it is about
                _rollback_quietly(session)
                log_event(
                    logger,
                    "fastagi.notice_failed",
                    level=logging.WARNING,
                    script=name,
                    error=f"{type(exc).__name__}: {exc}",
                )
        return "notice"

    def check_call_id(self, session, delivery_id: int, unique_id: str) -> None:
        """Raise CallNotOurs unless `unique_id` is the call id stored for the delivery; waits
        up to `fastagi_call_id_wait_s` while the dialer has not stored one yet."""
        deadline = time.monotonic() + self.settings.asterisk.fastagi_call_id_wait_s
        while True:
            stored = session.scalar(select(Delivery.provider_id).where(Delivery.id == delivery_id))
            session.rollback()  # the next look must see the dialer's commit; hold no connection
            if stored is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not unique_id or stored != unique_id:
            raise CallNotOurs(
                f"delivery {delivery_id}: channel {unique_id!r} is not its call "
                f"({'none stored' if stored is None else 'another call id stored'})"
            )

    def send_to_fallback(self, agi: ChannelAGI) -> None:
        try:
            agi.set_variable("BURGERNET_IVR_ERROR", "1")
            agi.set_context(self.settings.asterisk.fallback_context)
            agi.set_extension("s")
            agi.set_priority(1)
        except (AGIException, OSError) as exc:
            # The channel is gone (or Asterisk closed the link): nobody is left to hear it.
            log_event(logger, "fastagi.fallback_failed", level=logging.WARNING, error=str(exc))


def _rollback_quietly(session) -> None:
    """Roll back after a failure; when the database itself is gone, that fails too (logged)."""
    try:
        session.rollback()
    except Exception as exc:
        log_event(
            logger, "fastagi.rollback_failed", level=logging.WARNING, error=f"{type(exc).__name__}: {exc}"
        )


def _dialed(agi: ChannelAGI) -> str | None:
    for key in ("agi_dnid", "agi_extension"):
        value = agi.env.get(key, "")
        if value and value not in ("s", "unknown"):
            return value
    return None


class _Handler(socketserver.StreamRequestHandler):
    server: FastAgiServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        limits = self.server.limits
        lines = SocketLines(sock, limits.max_line_bytes)
        # socketserver types its streams as BufferedIOBase; they are binary files all the same.
        wfile = io.TextIOWrapper(cast(BinaryIO, self.wfile), encoding="utf-8", write_through=True)
        try:
            agi = ChannelAGI(lines, wfile, limits)
        except (AGIException, OSError, ValueError) as exc:
            log_event(
                logger,
                "fastagi.bad_connection",
                level=logging.WARNING,
                peer=self.client_address[0],
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        self.server.call_started()
        try:
            outcome = self.server.runner.run(agi)
        except Exception as exc:  # e.g. the session could not even be opened or closed
            log_event(
                logger,
                "fastagi.error",
                level=logging.ERROR,
                script=script_name(agi.env),
                uniqueid=agi.env.get("agi_uniqueid", ""),
                node="",
                error=f"{type(exc).__name__}: {exc}",
            )
            self.server.runner.send_to_fallback(agi)
            outcome = "fallback"
        finally:
            self.server.call_ended()
        self.server.note(outcome)


class FastAgiServer(socketserver.ThreadingTCPServer):
    """One thread per call, at most `max_sessions` at once. `serve_forever()` until `shutdown()`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        runner: CallRunner,
        limits: ChannelLimits | None = None,
        max_sessions: int = 400,
        allowed_peers: list[str] | None = None,
    ):
        self.runner = runner
        # Loopback only unless told otherwise (settings asterisk.fastagi_allowed_peers).
        self.allowed = allowed_networks(allowed_peers or ["127.0.0.1/32", "::1/128"])
        self.refused_peers = 0
        self.limits = limits or ChannelLimits()
        self.max_sessions = max_sessions
        self.sessions = 0  # open connections, calls or not yet
        self.refused = 0
        self.outcomes: dict[str, int] = {}
        self.active_calls = 0
        self.max_active_calls = 0
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def verify_request(self, request, client_address) -> bool:
        """Only the PBXs on the allow-list may connect; anyone else is closed at once."""
        if peer_allowed(client_address[0], self.allowed):
            return True
        with self._lock:
            self.refused_peers += 1
        log_event(logger, "fastagi.refused_peer", level=logging.WARNING, peer=client_address[0])
        return False

    def process_request(self, request, client_address) -> None:
        """Start the connection's thread, or refuse it when `max_sessions` are open."""
        with self._lock:
            full = self.sessions >= self.max_sessions
            if full:
                self.refused += 1
            else:
                self.sessions += 1
        if full:
            log_event(
                logger,
                "fastagi.refused",
                level=logging.WARNING,
                peer=client_address[0],
                sessions=self.max_sessions,
            )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._session_closed()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._session_closed()

    def _session_closed(self) -> None:
        with self._lock:
            self.sessions -= 1

    def note(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def call_started(self) -> None:
        with self._lock:
            self.active_calls += 1
            self.max_active_calls = max(self.max_active_calls, self.active_calls)

    def call_ended(self) -> None:
        with self._lock:
            self.active_calls -= 1

    def status(self) -> dict:
        """What the heartbeat reports: calls and connections now, outcomes so far."""
        with self._lock:
            return {
                "active_calls": self.active_calls,
                "sessions": self.sessions,
                "refused": self.refused,
                "refused_peers": self.refused_peers,
                "outcomes": dict(self.outcomes),
            }


class ServerHeartbeat:
    """Beats `Heartbeat(db, "ivr")` every `every_s` seconds with the server's status, from its
    own thread, until `stop()` (which says "stopped"). A failed beat is logged, never raised."""

    def __init__(self, server: FastAgiServer, db, every_s: float = 5.0, heartbeat: Heartbeat | None = None):
        self.server = server
        self.heartbeat = heartbeat or Heartbeat(db, "ivr")
        self.every_s = every_s
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        try:
            self.heartbeat.beat("ok", **self.server.status())
        except Exception as exc:
            self.failures += 1
            log_event(
                logger,
                "fastagi.heartbeat_failed",
                level=logging.WARNING,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fastagi-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.heartbeat.stopped()
        except Exception as exc:
            log_event(
                logger,
                "fastagi.heartbeat_failed",
                level=logging.WARNING,
                error=f"{type(exc).__name__}: {exc}",
            )


def build_server(
    settings,
    db,
    clock,
    host: str | None = None,
    port: int | None = None,
    scripts: Mapping[str, CallStart] | None = None,
) -> FastAgiServer:
    runner = CallRunner(settings, db, clock, scripts or default_scripts(), AsteriskSounds(settings))
    address = (
        host or settings.asterisk.fastagi_host,
        settings.asterisk.fastagi_port if port is None else port,
    )
    return FastAgiServer(
        address,
        runner,
        ChannelLimits.from_settings(settings.asterisk),
        settings.asterisk.fastagi_max_sessions,
        settings.asterisk.fastagi_allowed_peers,
    )
