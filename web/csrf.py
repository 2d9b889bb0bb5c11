"""CSRF protection for every form and every state-changing request.

Each session holds one random token. Every POST, PUT, PATCH and DELETE must carry it, in the
form field `csrf_token` or the `X-CSRF-Token` header (used by the console's fetch calls), or it
is refused with 400. Templates put it in a form with `{{ csrf_field() }}` (or read
`csrf_token()`); base.html also exposes it in a <meta name="csrf-token"> for scripts.

Exempt are only requests that do not authenticate with the session cookie: the signed Twilio
webhooks and the token-authenticated JSON API. Mark a view with `@csrf_exempt`, or a whole
blueprint with `exempt_blueprint(bp)` before it is registered.
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from flask import Blueprint, abort, current_app, request, session
from markupsafe import Markup, escape

bp = Blueprint("csrf", __name__)

FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_exempt_views: set[str] = set()
_exempt_blueprints: set[str] = set()


def csrf_exempt(view: Callable) -> Callable:
    """Exempt one view (only for requests authenticated by something other than the cookie)."""
    _exempt_views.add(f"{view.__module__}.{view.__qualname__}")
    view.csrf_exempt = True
    return view


def exempt_blueprint(blueprint: Blueprint) -> Blueprint:
    """Exempt every view of a blueprint (webhooks with their own signatures, the token API)."""
    _exempt_blueprints.add(blueprint.name)
    return blueprint


def csrf_token() -> str:
    token = session.get("_csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        session["_csrf_token"] = token
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD_NAME, escape(csrf_token()))


class CsrfRefused(Exception):
    user_message = (
        "Het formulier is verlopen of ongeldig (beveiligingscode ontbreekt). "
        "Laad de pagina opnieuw en probeer het nog eens."
    )


def _is_exempt() -> bool:
    if request.blueprint in _exempt_blueprints:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(view is not None and getattr(view, "csrf_exempt", False))


@bp.before_app_request
def _check_csrf():
    if request.method not in UNSAFE_METHODS or _is_exempt():
        return None
    expected = session.get("_csrf_token")
    sent = request.headers.get(HEADER_NAME) or request.form.get(FIELD_NAME)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        abort(400, description=CsrfRefused.user_message)
    return None


@bp.app_context_processor
def _template_helpers() -> dict:
    return {"csrf_token": csrf_token, "csrf_field": csrf_field}
