"""Sharing a trunk between running actions: weighted by incident priority, a minimum share for
each action with work, outcome messages and retries in their action's share, and the same
sharing whichever of several dialers on the trunk claims."""

from __future__ import annotations

from collections import Counter

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import func, select
from stepped_wave import dialer_log, quick_retries

from config.settings import SimulatorSettings
from db.models import ActionStatus, Delivery, DeliveryEvent, DeliveryKind, IncidentType, Outcome
from deliveries.trunk_share import FlowUse, share_fractions, share_order
from dialer.simulator import SimulatedNetwork
from dialer.worker import DialerWorker

FAST = SimulatorSettings(ring_mean_s=2, listen_mean_s=5, seed=5)


def test_shares_follow_priority_above_a_floor_for_everyone():
    shares = share_fractions({"child": 100, "vehicle": 40}, 0.2)
    assert shares["child"] == pytest.approx(0.2 + 0.6 * 100 / 140)
    assert shares["vehicle"] == pytest.approx(0.2 + 0.6 * 40 / 140)
    assert sum(shares.values()) == pytest.approx(1.0)
    # More flows than the floor allows: equal shares, nobody below 1 / n.
    many = share_fractions({i: (100 if i == 0 else 1) for i in range(8)}, 0.2)
    assert min(many.values()) == pytest.approx(1 / 8)


def test_a_newcomer_gets_the_next_calls_and_an_idle_share_is_used_by_the_others():
    busy = FlowUse(key=1, weight=100, lines=30, recent=40, waiting=500)
    newcomer = FlowUse(key=2, weight=40, lines=0, recent=0, waiting=500)
    order = share_order([busy, newcomer], 10, channels=30, cps=10, window_s=10, min_share=0.2)
    assert order[:5] == [2] * 5  # it holds no line: the first calls are its own
    # Nothing due for the newcomer (its retries wait): the trunk does not idle.
    waiting_retries = FlowUse(key=2, weight=40, lines=0, recent=0, waiting=0)
    assert share_order([busy, waiting_retries], 4, channels=30, cps=10, window_s=10, min_share=0.2) == [1] * 4
    # At equal use the bigger share goes first; no flow beyond what it has waiting.
    order = share_order(
        [FlowUse(1, 100, waiting=100), FlowUse(2, 40, waiting=3)],
        20,
        channels=20,
        cps=5,
        window_s=10,
        min_share=0.2,
    )
    assert order[0] == 1 and order.count(2) == 3 and len(order) == 20


def _worker(db, clock, settings, worker_id):
    network = SimulatedNetwork(clock, FAST, threaded=False)
    worker = DialerWorker(
        db, network, clock, settings, trunk_name="shared", worker_id=worker_id, simulate_ivr=False
    )
    worker.start()
    return worker, network


def test_two_dialers_share_the_trunk_by_priority_outcome_messages_in_their_place(db, room, clock, settings):
    """A missing child (priority 100) and the outcome message of an ended suspect action (60)
    fill the trunk; a vehicle (40) starts later, on a trunk dialled by two dialer processes
    taking turns. The vehicle's first call is the next call placed; while all three have work
    each gets at least its minimum share, the highest priority the most."""
    quick_retries(settings)
    settings.dialer.channels, settings.dialer.cps = 12, 3.0
    settings.dialer.min_share = 0.2
    with db.session() as s:
        child = make_action(s, room, incident=IncidentType.MISSING_CHILD, priority=100)
        ended = make_action(s, room, incident=IncidentType.SUSPECT, priority=60, status=ActionStatus.ENDED)
        make_deliveries(s, child, 60, prefix="+3115")
        ended.outcome = Outcome.ARRESTED
        make_deliveries(s, ended, 50, prefix="+3170", kind=DeliveryKind.OUTCOME)
        s.commit()
        name = {child.id: "child", ended.id: "outcome"}
    workers = [_worker(db, clock, settings, f"dialer-{i}") for i in (1, 2)]
    for step in range(1, 3000):
        if step == 40:  # 8 s in: every line is taken
            with db.session() as s:
                vehicle = make_action(s, room, incident=IncidentType.VEHICLE, priority=40)
                make_deliveries(s, vehicle, 40, prefix="+3171")
                s.commit()
                name[vehicle.id] = "vehicle"
            vehicle_added = clock.now()
        worker, _network = workers[step % 2]
        worker.tick()
        clock.advance(0.2)
        for _dialer, network in workers:
            network.pump(clock.now())
        if step % 50 == 0:
            with db.session() as s:
                if not s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "queued")):
                    break
    with db.session() as s:
        owner = {d.id: name[d.action_id] for d in s.scalars(select(Delivery))}
        claims = s.scalars(select(DeliveryEvent.detail).where(DeliveryEvent.event == "dialer.claimed")).all()
    assert step < 2999, "all three flows were dialled"
    assert Counter(detail["worker"] for detail in claims).keys() == {"dialer-1", "dialer-2"}
    log = [(at, delivery_id) for at, _id, delivery_id, _t, step in dialer_log(db) if step > 0]
    assert [owner[d] for at, d in log if at >= vehicle_added][0] == "vehicle"
    started = [delivery_id for at, delivery_id in log if at >= vehicle_added]
    starts = [owner[delivery_id] for delivery_id in started]
    # While all three have calls waiting (up to the first flow's last first attempt):
    first = {delivery_id: i for i, delivery_id in reversed(list(enumerate(started)))}
    end = min(max(i for d, i in first.items() if owner[d] == flow) for flow in name.values())
    both = Counter(starts[: end - 20])
    total = sum(both.values())
    assert both["child"] > both["outcome"] > both["vehicle"]
    assert all(count / total >= 0.2 for count in both.values()), both
    for begin in range(0, end - 40, 30):  # and in every stretch of 30 calls, not just overall
        window = Counter(starts[begin : begin + 30])
        assert all(window[flow] >= 4 for flow in name.values()), (begin, window)
