"""CSRF protection for every form and every state-changing request: Flask-WTF's CSRFProtect.

`create_app()` initialises `csrf` on the app. From then on every POST, PUT, PATCH and DELETE
must carry the session's token, in the form field `csrf_token` or the `X-CSRF-Token` header
(used by the console's fetch calls), or it is refused with 400 and a Dutch message. Templates
put it in a form with `{{ csrf_field() }}` (or read `csrf_token()`); base.html also exposes it
in a <meta name="csrf-token"> for scripts. A token stays valid as long as the session that
holds it (log-in and log-out start a new session, and with it a new token).

Exempt are only requests that do not authenticate with the session cookie: the signed Twilio
webhooks and the token-authenticated JSON API. Mark a view with `@csrf_exempt`, or a whole
blueprint with `exempt_blueprint(bp)`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup, escape

from web.security import error_response

bp = Blueprint("csrf", __name__)

csrf = CSRFProtect()

FIELD_NAME = "csrf_token"
# CSRFProtect keeps the raw token in the session under the field's name.
SESSION_KEY = FIELD_NAME

REFUSED_MESSAGE = (
    "Het formulier is verlopen of ongeldig (beveiligingscode ontbreekt). "
    "Laad de pagina opnieuw en probeer het nog eens."
)


def init_csrf(app: Flask) -> None:
    """Configure and attach CSRFProtect (called by `create_app()`)."""
    app.config.update(
        WTF_CSRF_FIELD_NAME=FIELD_NAME,
        WTF_CSRF_HEADERS=["X-CSRF-Token", "X-CSRFToken"],
        # The token lives as long as the session; the session has its own idle and age limits.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)


def csrf_exempt(view: Callable) -> Callable:
    """Exempt one view (only for requests authenticated by something other than the cookie)."""
    return csrf.exempt(view)


def exempt_blueprint(blueprint: Blueprint) -> Blueprint:
    """Exempt every view of a blueprint (webhooks with their own signatures, the token API)."""
    csrf.exempt(blueprint)
    return blueprint


def csrf_token() -> str:
    return generate_csrf()


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD_NAME, escape(csrf_token()))


@bp.app_errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    return error_response(400, REFUSED_MESSAGE)


@bp.app_context_processor
def _template_helpers() -> dict:
    return {"csrf_token": csrf_token, "csrf_field": csrf_field}
