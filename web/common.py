"""Small helpers every web blueprint shares: the clock and the client address."""

from __future__ import annotations

from flask import current_app, request

from config.clock import Clock, SystemClock


def current_clock() -> Clock:
    """The app's clock; tests put a FakeClock in app.extensions["burgernet.clock"]."""
    clock = current_app.extensions.get("burgernet.clock")
    if clock is None:
        clock = current_app.extensions.setdefault("burgernet.clock", SystemClock())
    return clock


def client_ip() -> str | None:
    """The caller's address as werkzeug sees it (ProxyFix, when configured, corrects it)."""
    return (request.remote_addr or "")[:45] or None
