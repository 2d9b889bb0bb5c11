"""`burgernet ivr serve`: the FastAGI server for Asterisk (alert and call-back flows)."""

from __future__ import annotations

import signal
import threading

import click

from config.clock import SystemClock
from config.logging import configure_logging
from db.runtime import current_db, current_settings, refuse_unless_configured
from ivr.fastagi import ServerHeartbeat, build_server
from ivr.flows import FLOWS

ivr_group = click.Group("ivr", help="The IVR: FastAGI server for Asterisk.")


@ivr_group.command("serve")
@click.option("--host", default=None, help="Listen address (default: settings asterisk.fastagi_host).")
@click.option("--port", default=None, type=int, help="Port (default: settings asterisk.fastagi_port).")
def serve(host: str | None, port: int | None) -> None:
    """Answer Asterisk's AGI(agi://host:port/<script>) for alert, outcome, verification and
    callback calls until stopped."""

    configure_logging()
    refuse_unless_configured("ivr")
    settings = current_settings()
    settings.ensure_instance_dirs()
    db = current_db()
    server = build_server(settings, db, SystemClock(), host, port)
    heartbeat = ServerHeartbeat(server, db)
    bound_host, bound_port = server.socket.getsockname()[:2]

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"FastAGI listening on {bound_host}:{bound_port} (scripts: {', '.join(FLOWS)})")
    heartbeat.start()
    try:
        server.serve_forever()
    finally:
        heartbeat.stop()
        server.server_close()
        click.echo(f"FastAGI stopped; calls: {server.outcomes}")
