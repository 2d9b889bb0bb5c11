"""The web layer: every feature is a blueprint registered here."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.home import bp as home_bp

    app.register_blueprint(home_bp)
