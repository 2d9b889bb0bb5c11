"""The web layer: every feature is a blueprint registered here."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.auth import bp as auth_bp
    from web.console import bp as console_bp
    from web.csrf import bp as csrf_bp
    from web.security import bp as security_bp

    app.register_blueprint(security_bp)
    app.register_blueprint(csrf_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(console_bp)
    from web.api import bp as api_bp

    app.register_blueprint(api_bp)
    from web.twilio_hooks import bp as twilio_hooks_bp

    app.register_blueprint(twilio_hooks_bp)
    from web.signup import bp as signup_bp

    app.register_blueprint(signup_bp)
    from web.selfservice import bp as selfservice_bp

    app.register_blueprint(selfservice_bp)
    from web.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from web.evaluation import bp as evaluation_bp

    app.register_blueprint(evaluation_bp)
