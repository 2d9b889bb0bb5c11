"""The dialer benchmark's bounds (pure functions): the independent bound must be a true lower
bound (no feasible schedule beats it) and must not be looser than the old one."""

import random

import pytest

from bench.dialer import Attempt, independent_bound, lower_bound, naive_batch_wave


def one_call_each(durations):
    return [Attempt(i, 1, d, None) for i, d in enumerate(durations, start=1)]


def test_one_channel_dials_one_after_another():
    attempts = one_call_each([2.0, 3.0, 4.0])
    bound = independent_bound(attempts, [1, 2, 3], channels=1, cps=1000, burst=1)
    assert bound["independent_bound_s"] == pytest.approx(9.0)


def test_the_dial_order_matters_on_one_channel():
    attempts = [Attempt(1, 1, 5.0, 100.0), Attempt(1, 2, 5.0, None), Attempt(2, 1, 50.0, None)]
    # Nearest first: delivery 2 waits for delivery 1's first call, then runs its 50 s.
    assert independent_bound(attempts, [1, 2], 1, 1000, 1)["independent_bound_s"] == pytest.approx(110.0)
    # The other way round, delivery 1's chain (5 + 100 + 5) starts after delivery 2's call.
    assert independent_bound(attempts, [2, 1], 1, 1000, 1)["independent_bound_s"] == pytest.approx(160.0)


def test_cps_spreads_the_first_calls_and_the_burst_goes_at_once():
    attempts = one_call_each([5.0] * 100)
    order = list(range(1, 101))
    one, two = (
        independent_bound(attempts, order, 1000, 10, burst)["independent_bound_s"] for burst in (1, 2)
    )
    assert one == pytest.approx(99 / 10 + 5) and two == pytest.approx(98 / 10 + 5)


def test_a_late_chain_counts_from_its_earliest_possible_start():
    # 200 one-second calls, then a delivery whose retries take 300 s: the old bound starts that
    # chain at 0; with 10 channels it cannot start before the 200 calls before it have gone.
    attempts = one_call_each([1.0] * 200)
    attempts += [Attempt(201, 1, 1.0, 299.0), Attempt(201, 2, 1.0, None)]
    order = list(range(1, 202))
    old = lower_bound(attempts, channels=10, cps=1000)["bound_s"]
    new = independent_bound(attempts, order, channels=10, cps=1000, burst=1)["independent_bound_s"]
    assert old == pytest.approx(301.0)
    assert new == pytest.approx((200 - 9) / 10 + 301.0)


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError):
        independent_bound(one_call_each([1.0]), [1], channels=0, cps=1, burst=1)


@pytest.mark.parametrize("seed", range(25))
def test_no_feasible_schedule_beats_the_bound_and_it_is_no_looser_than_the_old(seed):
    rng = random.Random(seed)
    attempts = []
    for delivery in range(1, rng.randint(2, 60)):
        tries = rng.choice([1, 1, 1, 2, 3])
        for n in range(1, tries + 1):
            delay = rng.choice([30.0, 120.0, 300.0]) if n < tries else None
            attempts.append(Attempt(delivery, n, rng.uniform(1, 90), delay))
    channels, cps = rng.randint(1, 12), rng.choice([1.0, 5.0, 50.0])
    order = sorted({a.delivery_id for a in attempts})
    bound = independent_bound(attempts, order, channels, cps, burst=1)["independent_bound_s"]
    # The batch dialer is a feasible schedule under the same limits and dial order.
    assert bound <= naive_batch_wave(attempts, channels, cps) + 1e-6
    assert bound >= lower_bound(attempts, channels, cps)["bound_s"] - 1 / cps - 1e-6
