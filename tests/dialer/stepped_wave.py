"""Run a wave on the simulated network in stepped simulated time (no threads, no sleeping)."""

from __future__ import annotations

from sqlalchemy import func, select

from config.settings import SimulatorSettings
from db.models import Delivery, DeliveryState
from deliveries.states import IN_PROGRESS
from dialer.simulator import SimulatedNetwork, SimulatedSender
from dialer.worker import DialerWorker

OPEN = [DeliveryState.QUEUED, DeliveryState.HELD, *IN_PROGRESS]


def simulated_worker(
    db,
    clock,
    settings,
    *,
    profile: SimulatorSettings | None = None,
    trunk_name: str = "sim",
    simulate_ivr: bool = False,
    **kwargs,
):
    quick_retries(settings)
    network = SimulatedNetwork(clock, profile or settings.dialer.simulator, threaded=False, **kwargs)
    senders = {"sms": SimulatedSender("sms"), "email": SimulatedSender("email")}
    worker = DialerWorker(
        db,
        network,
        clock,
        settings,
        senders=senders,
        trunk_name=trunk_name,
        worker_id="test-worker",
        simulate_ivr=simulate_ivr,
    )
    worker.start()
    return worker, network


def run_until_done(
    worker, network, clock, db, *, step_s: float = 0.2, limit_s: float = 7200, until=None
) -> float:
    """Tick, advance simulated time, deliver due events; stop when nothing is left open."""
    start = clock.monotonic()
    while clock.monotonic() - start < limit_s:
        report = worker.tick()
        clock.advance(step_s)
        network.pump(clock.now())
        if network.active_calls == 0 and not report.busy and until is None:
            skip_idle_polls(db, clock, step_s)
        if until is not None:
            if until():
                return clock.monotonic() - start
        elif network.active_calls == 0 and worker.pending_events == 0 and _all_final(db):
            worker.tick()
            if _all_final(db):
                return clock.monotonic() - start
    raise AssertionError("wave did not finish in time")


def skip_idle_polls(db, clock, step_s: float) -> None:
    """Nothing in flight: jump over the polls that would find nothing due."""
    with db.session() as s:
        next_due = s.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.state.in_([DeliveryState.QUEUED, DeliveryState.HELD])
            )
        )
    if next_due is not None and next_due > clock.now():
        clock.advance(int((next_due - clock.now()).total_seconds() / step_s) * step_s)


def quick_retries(settings) -> None:
    """Retry delays of seconds, so a whole wave with retries runs in little simulated time."""
    settings.dialer.busy_retry_delays_s = [10, 20]
    settings.dialer.no_answer_retry_delays_s = [15]
    settings.dialer.failed_retry_delays_s = [5]


def _all_final(db) -> bool:
    with db.session() as s:
        return not s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state.in_(OPEN)))


def dialer_log(db):
    """(at, event id, delivery id, target, +1/-1) for every call start and end, in order."""
    from db.models import DeliveryEvent

    ends_from = {"dialing", "ringing", "answered", "leaving_message"}
    ends_to = {"completed", "busy", "no_answer", "failed", "machine", "cancelled", "opted_out"}
    with db.session() as s:
        rows = s.execute(
            select(
                DeliveryEvent.at,
                DeliveryEvent.id,
                DeliveryEvent.delivery_id,
                Delivery.target,
                DeliveryEvent.event,
                DeliveryEvent.from_state,
                DeliveryEvent.to_state,
                Delivery.channel,
            )
            .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
            .order_by(DeliveryEvent.at, DeliveryEvent.id)
        ).all()
    log = []
    for at, event_id, delivery_id, target, event, from_state, to_state, channel in rows:
        if channel.value != "voice":
            continue
        if event == "dialer.claimed":
            log.append((at, event_id, delivery_id, target, +1))
        elif from_state in ends_from and (to_state in ends_to or event == "dialer.unclaimed"):
            log.append((at, event_id, delivery_id, target, -1))
    return log


def peak_concurrency(log, prefix: str = "") -> int:
    current = peak = 0
    for _at, _id, _delivery, target, step in log:
        if target.startswith(prefix):
            current += step
            peak = max(peak, current)
    return peak


def max_calls_in_window(log, window_s: float) -> int:
    starts = [at for at, _id, _d, _t, step in log if step > 0]
    best = 0
    j = 0
    for i, at in enumerate(starts):
        while (at - starts[j]).total_seconds() >= window_s:
            j += 1
        best = max(best, i - j + 1)
    return best
