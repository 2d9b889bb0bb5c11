"""Pacing: pure choices, and whole simulated waves checked against their event log."""

from __future__ import annotations

import pytest
from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select
from stepped_wave import (
    dialer_log,
    max_calls_in_window,
    peak_concurrency,
    run_until_done,
    simulated_worker,
)

from config.settings import SimulatorSettings
from db.models import Delivery, DeliveryState, Trunk
from dialer.pacing import Candidate, TokenBucket, choose_calls, prefix_for

S = DeliveryState


def c(delivery_id, action_id, priority, rank, target="+31150000000"):
    return Candidate(delivery_id, action_id, priority, rank, target)


def test_token_bucket_refills_at_its_rate_up_to_capacity():
    bucket = TokenBucket.for_cps(10, 0.5, now=0.0)
    assert bucket.capacity == 5 and bucket.available(0.0) == 5
    bucket.take(5, 0.0)
    assert bucket.available(0.0) == 0
    assert bucket.available(0.25) == 2
    assert bucket.seconds_until(5, 0.25) == pytest.approx(0.25)  # 2.5 tokens missing
    assert bucket.available(100.0) == 5
    with pytest.raises(ValueError):
        bucket.take(6, 100.0)
    with pytest.raises(ValueError):
        TokenBucket.for_cps(0, 1, 0.0)


def test_choose_calls_respects_channels_tokens_and_prefix_caps():
    ordered = [c(i, 1, 0, i, "+3115" + str(i) if i % 2 else "+3170" + str(i)) for i in range(10)]
    assert len(choose_calls(ordered, free_channels=3, tokens=10)) == 3
    assert len(choose_calls(ordered, free_channels=10, tokens=4)) == 4
    assert choose_calls(ordered, free_channels=0, tokens=4) == []
    chosen = choose_calls(
        ordered, free_channels=10, tokens=10, prefix_caps={"+3115": 2}, prefix_in_flight={"+3115": 1}
    )
    assert sum(1 for x in chosen if x.target.startswith("+3115")) == 1
    assert len(chosen) == 6
    assert prefix_for("+31151234", {"+31": 1, "+3115": 1}) == "+3115"


FAST = SimulatorSettings(ring_mean_s=2, listen_mean_s=5, seed=3)


@pytest.mark.parametrize("channels,cps", [(8, 2.0), (20, 10.0)])
def test_wave_never_exceeds_channels_or_cps(db, room, clock, settings, channels, cps):
    settings.dialer.channels, settings.dialer.cps = channels, cps
    with db.session() as s:
        action = make_action(s, room)
        make_deliveries(s, action, 100)
        s.commit()
    worker, network = simulated_worker(db, clock, settings, profile=FAST)
    run_until_done(worker, network, clock, db)
    log = dialer_log(db)
    capacity = max(1.0, cps * settings.dialer.cps_burst_s)
    assert sum(1 for entry in log if entry[4] > 0) >= 100
    assert peak_concurrency(log) == channels  # used to the full, never beyond
    assert max_calls_in_window(log, 1.0) <= cps * 1.0 + capacity
    assert max_calls_in_window(log, 10.0) <= cps * 10.0 + capacity
    assert network.congested == 0
    with db.session() as s:
        assert not s.scalars(
            select(Delivery).where(Delivery.state.in_([S.QUEUED, S.DIALING, S.RINGING, S.ANSWERED]))
        ).all()


def test_prefix_caps_hold(db, room, clock, settings):
    settings.dialer.channels, settings.dialer.cps = 20, 20.0
    with db.session() as s:
        action = make_action(s, room)
        make_deliveries(s, action, 40, prefix="+3115")  # Delft
        make_deliveries(s, action, 40, prefix="+3170", start=100)  # The Hague
        s.add(Trunk(name="capped", backend="simulator", max_channels=20, cps=20.0, prefix_caps={"+3115": 4}))
        s.commit()
    worker, network = simulated_worker(db, clock, settings, profile=FAST, trunk_name="capped")
    run_until_done(worker, network, clock, db)
    log = dialer_log(db)
    assert peak_concurrency(log, "+3115") == 4
    assert peak_concurrency(log) > 4
