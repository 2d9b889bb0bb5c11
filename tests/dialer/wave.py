"""Run a wave on the simulated network in stepped simulated time (no threads, no sleeping)."""
from __future__ import annotations

from sqlalchemy import func, select

from config.settings import SimulatorSettings
from db.models import Delivery, DeliveryState
from dialer.simulator import SimulatedNetwork, SimulatedSender
from dialer.states import IN_FLIGHT
from dialer.worker import DialerWorker

OPEN = [DeliveryState.QUEUED, DeliveryState.HELD, *IN_FLIGHT]


def simulated_worker(db, clock, settings, *, profile: SimulatorSettings | None = None,
                     trunk_name: str = "sim", simulate_ivr: bool = False, **kwargs):
    network = SimulatedNetwork(clock, profile or settings.dialer.simulator, threaded=False,
                               **kwargs)
    senders = {"sms": SimulatedSender("sms"), "email": SimulatedSender("email")}
    worker = DialerWorker(db, network, clock, settings, senders=senders, trunk_name=trunk_name,
                          worker_id="test-worker", simulate_ivr=simulate_ivr)
    worker.start()
    return worker, network


def run_until_done(worker, network, clock, db, *, step_s: float = 0.2, limit_s: float = 7200,
                   until=None) -> float:
    """Tick, advance simulated time, deliver due events; stop when nothing is left open."""
    start = clock.monotonic()
    while clock.monotonic() - start < limit_s:
        worker.tick()
        clock.advance(step_s)
        network.pump(clock.now())
        if until is not None:
            if until():
                return clock.monotonic() - start
        elif network.active_calls == 0 and worker._events.empty() and _all_final(db):
            worker.tick()
            if _all_final(db):
                return clock.monotonic() - start
    raise AssertionError("wave did not finish in time")


def _all_final(db) -> bool:
    with db.session() as s:
        return not s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.state.in_(OPEN)))
