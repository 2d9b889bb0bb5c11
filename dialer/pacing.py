"""Pacing: which queued calls may go out now. Pure functions and a token bucket, no I/O.

A trunk has a cap on concurrent calls, a calls-per-second rate (a token bucket whose capacity
is a short burst) and optional caps per number prefix, so one local exchange is not flooded
(Everbridge does the same per area code). How several running actions share a trunk (by
incident priority, each with a minimum share) is deliveries.trunk_share; the worker gives
`choose_calls` the candidates in that order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens per second (the CPS limit)
    capacity: float  # the largest burst
    tokens: float
    stamp: float  # monotonic seconds of the last refill

    @classmethod
    def for_cps(cls, cps: float, burst_s: float, now: float) -> TokenBucket:
        if cps <= 0:
            raise ValueError("calls per second must be > 0")
        capacity = max(1.0, cps * burst_s)
        return cls(rate=cps, capacity=capacity, tokens=capacity, stamp=now)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def available(self, now: float) -> int:
        self.refill(now)
        return int(self.tokens + 1e-9)

    def take(self, count: int, now: float) -> None:
        self.refill(now)
        if count > self.tokens + 1e-9:
            raise ValueError(f"token bucket: {count} wanted, {self.tokens:.2f} available")
        self.tokens -= count

    def seconds_until(self, count: int, now: float) -> float:
        self.refill(now)
        missing = count - self.tokens
        return max(0.0, missing / self.rate)


@dataclass(frozen=True)
class Candidate:
    delivery_id: int
    action_id: int | None
    priority: int
    rank: int
    target: str


def prefix_for(target: str, caps: Mapping[str, int]) -> str | None:
    """The longest capped prefix the number starts with."""
    best = None
    for prefix in caps:
        if target.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def prefix_load(targets: Iterable[str], caps: Mapping[str, int]) -> dict[str, int]:
    load: dict[str, int] = defaultdict(int)
    for target in targets:
        prefix = prefix_for(target, caps)
        if prefix is not None:
            load[prefix] += 1
    return dict(load)


def choose_calls(
    ordered: Sequence[Candidate],
    *,
    free_channels: int,
    tokens: int,
    prefix_caps: Mapping[str, int] | None = None,
    prefix_in_flight: Mapping[str, int] | None = None,
) -> list[Candidate]:
    """Take candidates in order while channels and tokens last, skipping capped prefixes."""
    budget = min(free_channels, tokens)
    if budget <= 0:
        return []
    caps = prefix_caps or {}
    load = dict(prefix_in_flight or {})
    chosen: list[Candidate] = []
    for candidate in ordered:
        if len(chosen) >= budget:
            break
        prefix = prefix_for(candidate.target, caps) if caps else None
        if prefix is not None:
            if load.get(prefix, 0) >= caps[prefix]:
                continue
            load[prefix] = load.get(prefix, 0) + 1
        chosen.append(candidate)
    return chosen
