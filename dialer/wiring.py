"""Builds the dialer's parts from the settings: clock, phone backend, message senders, worker.

The dialer core never imports an adapter; this is the one place that picks them.
"""

from __future__ import annotations

from pathlib import Path

from callback_line.desk_phones import DeskPhones
from config.clock import Clock, SystemClock
from config.settings import Settings
from db.database import Database
from deliveries.call_backend import CallBackend
from deliveries.message_sender import MessageSender
from dialer.backends.asterisk import AsteriskBackend
from dialer.backends.desk_phones import AsteriskDeskPhones, SimulatedDeskPhones, TwilioDeskPhones
from dialer.backends.twilio import TwilioCallBackend
from dialer.simulator import ScaledClock, SimulatedNetwork, SimulatedSender
from dialer.worker import DialerWorker
from messaging.senders import senders_from_settings


def build_clock(settings: Settings) -> Clock:
    """Real time, or the simulator's faster time in training mode when a time scale is set."""
    scale = settings.dialer.simulator.time_scale
    if settings.training_mode and scale != 1.0:
        return ScaledClock(scale)
    return SystemClock()


def build_backend(settings: Settings, clock: Clock, *, call_log: Path | None = None) -> CallBackend:
    if settings.phone_backend == "simulator":
        return SimulatedNetwork(clock, settings.dialer.simulator, call_log=call_log)
    if settings.phone_backend == "asterisk":
        return AsteriskBackend(settings.asterisk, caller_id=settings.caller_id, clock=clock)
    if settings.phone_backend == "twilio":
        return TwilioCallBackend(settings)
    raise ValueError(f"unknown phone backend {settings.phone_backend!r}")


def build_desk_phones(settings: Settings) -> DeskPhones:
    """The centralists' desk phones (click-to-call, presence) on the configured backend."""
    if settings.phone_backend == "asterisk":
        return AsteriskDeskPhones(settings)
    if settings.phone_backend == "twilio":
        return TwilioDeskPhones(settings)
    return SimulatedDeskPhones()


def build_senders(settings: Settings) -> dict[str, MessageSender]:
    """Simulated SMS and email in training mode, else Twilio Messages and SMTP."""
    if settings.training_mode:
        return {"sms": SimulatedSender("sms"), "email": SimulatedSender("email")}

    return senders_from_settings(settings)


def build_worker(
    db: Database,
    settings: Settings,
    *,
    clock: Clock | None = None,
    trunk_name: str | None = None,
    worker_id: str | None = None,
    call_log: Path | None = None,
):

    clock = clock or build_clock(settings)
    backend = build_backend(settings, clock, call_log=call_log)
    return DialerWorker(
        db,
        backend,
        clock,
        settings,
        senders=build_senders(settings),
        trunk_name=trunk_name,
        worker_id=worker_id,
    )
