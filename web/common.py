"""Small helpers every console blueprint shares: the clock, the client address, Dutch errors."""
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


def user_message(error: Exception) -> str:
    """The Dutch text for a domain error: its `user_message` if it has one."""
    text = getattr(error, "user_message", None)
    if text:
        return str(text)
    return "Er ging iets mis bij het verwerken van uw verzoek. Probeer het opnieuw."
