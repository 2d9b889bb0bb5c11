"""Per-process counters a web worker reports in its heartbeat (so /metrics sees every worker).

Counting in the worker and publishing through the `web` heartbeat's detail keeps the count
right across gunicorn workers and hosts without Prometheus' multiprocess mode (a shared
directory per host) and without a write per refused request: /metrics reads every live web
heartbeat. A counter starts at 0 when its worker starts; each worker is its own series
(label `process`), so Prometheus' `rate()`/`increase()` handle restarts as counter resets.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def count(name: str, n: int = 1) -> None:
    with _lock:
        _counts[name] += n


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)
