"""The platform's telephony side for one process, on a real Asterisk: the FastAGI server (IVR),
the AMI backend and the dialer worker, each in its own thread.

Used by `burgernet bench asterisk` and the end-to-end tests; production runs the same three
parts (`burgernet ivr serve` and `burgernet dialer run` with the asterisk backend). The worker
runs the production pacing loop (`dialer.worker.PacingLoop`, i.e. `DialerWorker.run`), so the
end-to-end tests pace, wake on events and survive a failed tick exactly like a dialer process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.clock import Clock, SystemClock
from config.logging import log_event
from config.settings import Settings
from db.database import Database
from db.models import (
    Action,
    ActionStatus,
    Address,
    AddressKind,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    GeocodeStatus,
    IncidentType,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
)
from deliveries.call_backend import CallBackend, CallRequest, EventSink
from dialer.backends.asterisk import AsteriskBackend
from dialer.worker import DialerWorker, PacingLoop
from ivr.asterisk_audio import AsteriskSounds
from ivr.fastagi import build_server
from ivr.flow import Speech
from prompts.ivr_prompts import static_prompt_keys

logger = logging.getLogger(__name__)

DEFAULT_VOICE_TEXT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer "
    "dertig jaar met een rode jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)


@dataclass
class SeededWave:
    room_id: int
    operator_id: int
    action_id: int
    deliveries: dict[str, int]  # number -> delivery id
    participants: dict[str, int]  # number -> participant id


def _room_with_centralist(
    s: Session, name: str, transfer_target: str, callback_number: str
) -> tuple[ControlRoom, Operator]:
    """A control room of its own (unique name) and its centralist, flushed."""
    room = ControlRoom(
        name=f"Meldkamer {name} {time.time_ns()}",
        region="Haaglanden",
        transfer_target=transfer_target,
        callback_number=callback_number,
    )
    s.add(room)
    s.flush()
    operator = Operator(
        username=f"centralist-{time.time_ns()}",
        display_name="C. Entralist",
        password_hash="!",
        role=Role.CENTRALIST,
        control_room_id=room.id,
        transfer_target=transfer_target,
    )
    s.add(operator)
    s.flush()
    return room, operator


def seed_alert_wave(
    db: Database,
    numbers: list[str],
    *,
    voice_text: str = DEFAULT_VOICE_TEXT,
    transfer_target: str = "PJSIP/burgernet-centralist",
    callback_number: str = "08000011",
    clock: Clock | None = None,
    state: DeliveryState = DeliveryState.QUEUED,
) -> SeededWave:
    """A running action with one voice alert per number (queued, unless `state` says the wave
    already ran), each for its own participant."""
    clock = clock or SystemClock()
    with db.transaction() as s:
        room, operator = _room_with_centralist(s, "testbed", transfer_target, callback_number)
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.SUSPECT,
            voice_text=voice_text,
            sms_text="Burgernet: kijk uit naar een man, rode jas.",
            location_label="Markt, Delft",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=[Channel.VOICE.value],
            status=ActionStatus.RUNNING,
            started_by_id=operator.id,
            started_at=clock.now(),
            description={"clothing": "rode jas"},
        )
        s.add(action)
        s.flush()
        deliveries, participants = {}, {}
        for rank, number in enumerate(numbers):
            participant = Participant(
                name=f"Deelnemer {rank}", birth_year=1980, channels=[Channel.VOICE.value]
            )
            participant.addresses.append(
                Address(
                    kind=AddressKind.HOME,
                    postcode="2611AB",
                    house_number=rank + 1,
                    lat=52.0126,
                    lon=4.3571,
                    geocode_status=GeocodeStatus.OK,
                )
            )
            participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
            s.add(participant)
            s.flush()
            delivery = Delivery(
                action_id=action.id,
                participant_id=participant.id,
                kind=DeliveryKind.ALERT,
                channel=Channel.VOICE,
                target=number,
                phone_kind=PhoneKind.MOBILE,
                rank=rank,
                distance_m=100.0,
                priority=action.priority,
                state=state,
            )
            s.add(delivery)
            s.flush()
            deliveries[number] = delivery.id
            participants[number] = participant.id
        return SeededWave(room.id, operator.id, action.id, deliveries, participants)


@dataclass
class SeededRegistry:
    room_id: int
    username: str  # the centralist, for `burgernet api-token issue`
    participants: dict[str, int]  # number -> participant id


def seed_registry(
    db: Database,
    numbers: list[str],
    *,
    lat: float = 52.0116,
    lon: float = 4.3571,
    transfer_target: str = "PJSIP/burgernet-centralist",
    callback_number: str = "08000011",
) -> SeededRegistry:
    """A control room with a centralist and one verified voice participant per number, each at
    a home address within 300 m of (lat, lon): what an action through the console or the JSON
    API selects and calls (nothing queued yet)."""
    with db.transaction() as s:
        room, operator = _room_with_centralist(s, "topologie", transfer_target, callback_number)
        username = operator.username
        participants = {}
        for rank, number in enumerate(numbers):
            participant = Participant(
                name=f"Deelnemer {rank}", birth_year=1980, channels=[Channel.VOICE.value]
            )
            participant.addresses.append(
                Address(
                    kind=AddressKind.HOME,
                    postcode="2611AB",
                    house_number=rank + 1,
                    lat=lat + (rank % 20) * 0.0001,
                    lon=lon + (rank // 20) * 0.0001,
                    geocode_status=GeocodeStatus.OK,
                )
            )
            participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
            s.add(participant)
            s.flush()
            participants[number] = participant.id
        return SeededRegistry(room.id, username, participants)


def prerender_prompts(settings: Settings, texts: list[str]) -> None:
    """Render the fixed IVR prompts and the given texts once, before calls ask for them."""
    sounds = AsteriskSounds(settings)
    for key in static_prompt_keys():
        sounds.sound_name(Speech(text="", key=key))
    for text in texts:
        sounds.sound_name(Speech(text=text))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OriginateLog:
    """Originate timestamps (monotonic), for the benchmark's CPS figures."""

    times: list[float] = field(default_factory=list)
    # How long each originate took to hand over (the AMI round trip: Async Originate answers
    # "queued" at once), seconds.
    waits: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, at: float, wait_s: float = 0.0) -> None:
        with self.lock:
            self.times.append(at)
            self.waits.append(wait_s)


class TimedBackend:
    """A CallBackend that notes when each originate was handed over, then delegates."""

    def __init__(self, inner: CallBackend, log: OriginateLog):
        self.inner = inner
        self.log = log
        self.name = inner.name

    def start(self, sink: EventSink) -> None:
        self.inner.start(sink)

    def originate(self, request: CallRequest) -> str | None:
        started = time.monotonic()
        provider_id = self.inner.originate(request)
        done = time.monotonic()
        self.log.note(done, done - started)
        return provider_id

    def hangup(self, delivery_id: int, provider_id: str | None) -> None:
        self.inner.hangup(delivery_id, provider_id)

    def unavailable_reason(self) -> str | None:
        return self.inner.unavailable_reason()

    def stop(self) -> None:
        self.inner.stop()


class AsteriskStack:
    """FastAGI server + AMI backend + dialer worker for one database, started and stopped
    together. `settings.asterisk.fastagi_port` must be free (see `free_port`)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock | None = None,
        trunk_name: str = "asterisk",
        with_ivr: bool = True,
        backend_options: dict | None = None,
    ):
        self.settings = settings
        self.db = db
        self.clock = clock or SystemClock()
        self.trunk_name = trunk_name
        self.with_ivr = with_ivr
        self.originates = OriginateLog()
        self.backend = AsteriskBackend(
            settings.asterisk, caller_id=settings.caller_id, clock=self.clock, **(backend_options or {})
        )
        self.server = None
        self.worker: DialerWorker | None = None
        self.loop: PacingLoop | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> AsteriskStack:
        if self.with_ivr:
            self.server = build_server(self.settings, self.db, self.clock)
            self._spawn("fastagi", self.server.serve_forever)
        self.worker = DialerWorker(
            self.db,
            TimedBackend(self.backend, self.originates),
            self.clock,
            self.settings,
            trunk_name=self.trunk_name,
            simulate_ivr=False,
        )
        # Connects the backend now, so a dead AMI fails here, loudly; then the production loop.
        self.loop = PacingLoop(self.worker, name="stack-dialer").start()
        log_event(logger, "asterisk_stack.started", fastagi=self.settings.asterisk.fastagi_port)
        return self

    def _spawn(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=f"stack-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> AsteriskStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def delivery_states(db: Database, action_id: int) -> dict[int, DeliveryState]:
    with db.session() as s:
        rows = s.execute(select(Delivery.id, Delivery.state).where(Delivery.action_id == action_id))
        return {row.id: DeliveryState(row.state) for row in rows}


# --- the production topology: `burgernet ...` processes ----------------------------------------

BURGERNET = Path(sys.executable).parent / "burgernet"
TEST_SECRET_KEY = "topology-test-secret-key-0123456789abcdef"


def platform_env(settings: Settings, **extra: object) -> dict[str, str]:
    """The environment a `burgernet` process needs to run with `settings` (the parts the
    topology tests change: database, backend, AMI, FastAGI, shared directories, the dialer's
    pacing). Quiet hours off (settings without a window) becomes an empty window (00:00-00:00).
    `extra` adds BURGERNET_ variables by setting path, e.g. dialer__cps=5."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BURGERNET_") and k != "DATABASE_URL"}
    a, d = settings.asterisk, settings.dialer
    values: dict[str, object] = {
        # config.checks wants at least 32 characters outside training mode.
        "secret_key": settings.secret_key if len(settings.secret_key) >= 32 else TEST_SECRET_KEY,
        "instance_path": settings.instance_path,
        "phone_backend": settings.phone_backend,
        "asterisk__ami_host": a.ami_host,
        "asterisk__ami_port": a.ami_port,
        "asterisk__ami_connections": a.ami_connections,
        "asterisk__ami_username": a.ami_username,
        "asterisk__ami_secret": a.ami_secret,
        "asterisk__fastagi_host": a.fastagi_host,
        "asterisk__fastagi_port": a.fastagi_port,
        "asterisk__dial_template": a.dial_template,
        "asterisk__sounds_dir": a.sounds_dir,
        "asterisk__recordings_dir": a.recordings_dir,
        "dialer__cps": d.cps,
        "dialer__channels": d.channels,
        "dialer__dial_timeout_s": d.dial_timeout_s,
        "dialer__reconcile_grace_s": d.reconcile_grace_s,
        "dialer__max_call_s": d.max_call_s,
        "dialer__poll_interval_s": d.poll_interval_s,
        "dialer__cps_window_s": d.cps_window_s,
        "dialer__busy_retry_delays_s": d.busy_retry_delays_s,
        "dialer__no_answer_retry_delays_s": d.no_answer_retry_delays_s,
        "dialer__failed_retry_delays_s": d.failed_retry_delays_s,
    }
    if settings.quiet_hours_start is None or settings.quiet_hours_end is None:
        # The environment cannot say None; a window that ends where it starts is empty.
        values["quiet_hours_start"] = values["quiet_hours_end"] = "00:00"
    values.update(extra)
    for key, value in values.items():
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        env[f"BURGERNET_{key.upper()}"] = text
    env["DATABASE_URL"] = settings.database_url
    return env


class PlatformProcess:
    """One `burgernet ARGS...` process (dialer, FastAGI server, scheduler, gunicorn...), its
    output in `<workdir>/<label>.log`; stopped with SIGTERM (SIGKILL after 15 s) on exit.
    Runs in `workdir`, so no .env file of the checkout applies."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, label: str):
        self.args = args if args[0] != "burgernet" else [str(BURGERNET), *args[1:]]
        self.env = env
        self.workdir = workdir
        self.label = label
        self.log_path = workdir / f"{label}.log"
        self.process: subprocess.Popen | None = None

    def start(self, ready: str | None = None, timeout_s: float = 60) -> PlatformProcess:
        """Start it; with `ready`, wait until that text appears in its output."""
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            self.args,
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if ready is not None:
            deadline = time.monotonic() + timeout_s
            while ready not in self.output():
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.label} exited with {self.process.returncode}: {self.tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.label} not ready within {timeout_s:.0f} s: {self.tail()}")
                time.sleep(0.2)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies without running a line of its own clean-up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        return self.process.returncode if self.process else None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.label} ---\n{self.output()[-chars:]}"

    def __enter__(self) -> PlatformProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
