"""The WSGI entry point for production: `gunicorn -c web/gunicorn_conf.py web.wsgi:app`.

The app is built from the environment (`BURGERNET_*`, `DATABASE_URL`, `.env`) exactly as the
CLI reads it, the configuration is checked first (config.checks: the process refuses to start
on default secrets, an unreachable Twilio URL, ...), and nothing is migrated: run
`burgernet db upgrade` before starting or upgrading the web tier. Each worker beats a `web`
heartbeat (web.heartbeat). `burgernet serve` stays the development server.
"""

from __future__ import annotations

from app import create_app
from config.logging import configure_logging

configure_logging()
app = create_app(production=True)
