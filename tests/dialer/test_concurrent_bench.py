"""`bench concurrent`'s per-minute share: each action's smallest share of the calls claimed in
any whole minute while both had work."""

from __future__ import annotations

import pytest

from bench.concurrent import minute_shares


def test_minute_shares_take_the_worst_whole_minute():
    claims = [(t * 0.5, 1 if t % 3 else 2) for t in range(240)]  # 2 calls a second, 1 in 3 to action 2
    claims += [(120 + i * 0.1, 1) for i in range(100)]  # a burst for action 1 in the third minute
    shares = minute_shares(claims, [1, 2], 0.0, 125.0)  # two whole minutes only
    assert shares[2] == pytest.approx(40 / 120)
    assert shares[1] == pytest.approx(80 / 120)
    assert minute_shares(claims, [1, 2], 0.0, 59.0) == {1: None, 2: None}  # no whole minute
