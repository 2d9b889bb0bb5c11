"""`bench concurrent`'s per-minute share: each action's smallest share of the calls claimed in
any whole minute while both had work."""

from __future__ import annotations

import pytest

from bench.concurrent import ideal_wave_s, minute_shares
from bench.dialer import Attempt


def test_minute_shares_take_the_worst_whole_minute():
    claims = [(t * 0.5, 1 if t % 3 else 2) for t in range(240)]  # 2 calls a second, 1 in 3 to action 2
    claims += [(120 + i * 0.1, 1) for i in range(100)]  # a burst for action 1 in the third minute
    shares = minute_shares(claims, [1, 2], 0.0, 125.0)  # two whole minutes only
    assert shares[2] == pytest.approx(40 / 120)
    assert shares[1] == pytest.approx(80 / 120)
    assert minute_shares(claims, [1, 2], 0.0, 59.0) == {1: None, 2: None}  # no whole minute


def test_the_ideal_dialer_fills_every_line_and_retries_first():
    # Two lines. 1 (5 s, retried after 1 s for 20 s), 2 and 3 (10 s) fill them; at 10 s the due
    # retry goes before 4, and ends at 30 s (fresh first, it would end at 35 s).
    attempts = [Attempt(1, 1, 5.0, 1.0), Attempt(1, 2, 20.0, None)]
    attempts += [Attempt(i, 1, 10.0, None) for i in (2, 3, 4)]
    release = dict.fromkeys((1, 2, 3, 4), 0.0)
    assert ideal_wave_s(attempts, [1, 2, 3, 4], release, channels=2, cps=1000) == pytest.approx(
        30.0, abs=0.01
    )
    # A delivery released later (the second action's start) waits for it.
    assert ideal_wave_s(attempts[2:3], [2], {2: 50.0}, channels=2, cps=1000) == pytest.approx(60.0)
