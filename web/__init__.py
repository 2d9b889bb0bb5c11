"""The web layer: every feature is a blueprint registered here."""

from __future__ import annotations

from flask import Flask

from web.admin import bp as admin_bp
from web.api import bp as api_bp
from web.auth import bp as auth_bp
from web.console import bp as console_bp
from web.csrf import bp as csrf_bp
from web.evaluation import bp as evaluation_bp
from web.formatting import bp as formatting_bp
from web.ops import bp as ops_bp
from web.security import bp as security_bp
from web.selfservice import bp as selfservice_bp
from web.signup import bp as signup_bp
from web.twilio_hooks import bp as twilio_hooks_bp

BLUEPRINTS = (
    security_bp,
    formatting_bp,
    csrf_bp,
    ops_bp,
    auth_bp,
    console_bp,
    api_bp,
    twilio_hooks_bp,
    signup_bp,
    selfservice_bp,
    admin_bp,
    evaluation_bp,
)


def register_blueprints(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
