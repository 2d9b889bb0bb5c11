"""The `web` heartbeat of a web worker: a daemon thread beats every `ops.web_heartbeat_s`.

Started on the first request a worker serves (gunicorn forks its workers after importing the
app, and a thread does not survive a fork), so each worker process has exactly one beating
thread; the pid check starts a new one in a forked child. The beat carries the worker's
counters (web.process_stats). A failed beat (the database away) is logged and retried at the
next tick; it never stops the worker.
"""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask

from config.logging import log_event
from db.heartbeats import Heartbeat
from web import process_stats

log = logging.getLogger(__name__)
_started_in: dict[tuple[int, int], threading.Thread] = {}
_lock = threading.Lock()


def enable_web_heartbeat(app: Flask) -> None:
    """Beat a `web` heartbeat from every process that serves this app (production only)."""
    app.before_request(lambda: ensure_running(app))


def ensure_running(app: Flask) -> None:
    key = (os.getpid(), id(app))
    if key in _started_in:
        return
    with _lock:
        if key in _started_in:
            return
        settings = app.extensions["burgernet.settings"]
        heartbeat = Heartbeat(app.extensions["burgernet.db"], "web")
        stop = threading.Event()
        thread = threading.Thread(
            target=_run,
            args=(heartbeat, settings.ops.web_heartbeat_s, settings.phone_backend, stop),
            name="burgernet-web-heartbeat",
            daemon=True,
        )
        app.extensions["burgernet.web_heartbeat"] = (heartbeat, stop)
        _started_in[key] = thread
        thread.start()


def _run(heartbeat: Heartbeat, interval_s: float, backend: str, stop: threading.Event) -> None:
    failing = False
    while True:
        try:
            heartbeat.beat("ok", backend=backend, **process_stats.snapshot())
            if failing:
                log_event(log, "web.heartbeat.recovered")
            failing = False
        except Exception as exc:  # the heartbeat reports on the worker; it must not stop it
            if not failing:
                log_event(log, "web.heartbeat.failed", logging.WARNING, error=str(exc)[:200])
            failing = True
        if stop.wait(interval_s):
            try:
                heartbeat.stopped()
            except Exception:
                pass
            return


def stop_web_heartbeat(app: Flask) -> None:
    """Say `stopped` and end the thread (gunicorn's worker_exit hook calls this)."""
    entry = app.extensions.get("burgernet.web_heartbeat")
    if entry is not None:
        entry[1].set()
        thread = _started_in.get((os.getpid(), id(app)))
        if thread is not None:
            thread.join(timeout=5)
