"""gunicorn settings for the web tier: `gunicorn -c web/gunicorn_conf.py web.wsgi:app`.

Sized for a small machine (2 cores): 2 worker processes with 8 threads each. A request of the
console or a Twilio webhook spends most of its time waiting for PostgreSQL, so threads
overlap those waits; two processes use both cores for the Python part. The live page's event
stream holds a thread for at most `web.live_stream_s` (20 s) before the browser reconnects, so
16 threads serve many viewers. Every value can be overridden with GUNICORN_* variables or
gunicorn's own command-line options (they take precedence over this file).
"""

from __future__ import annotations

import multiprocessing
import os

from web.heartbeat import stop_web_heartbeat

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(4, max(2, multiprocessing.cpu_count()))))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
worker_class = "gthread"
# Longer than the longest request the app serves (an event stream, a CSV export).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory growth), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = 2000
# Access logs are off by default: every Twilio callback would be a line; errors go to stderr.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# The app is imported in each worker (no preload): database pools are never shared over fork.
preload_app = False


def worker_exit(server, worker) -> None:
    """Say `stopped` in this worker's heartbeat, so the status page does not wait 30 s."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_web_heartbeat(app)
