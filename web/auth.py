"""Log-in and roles for the console, on Flask-Login.

Operators log in with a username and a password (werkzeug hashes). Roles are ordered:
centralist < supervisor < admin; `@login_required(role=Role.SUPERVISOR)` guards a view.
Flask-Login keeps the operator's id in the session and loads the operator once per request
(`current_operator()`); `create_app()` calls `init_login(app)`.

Sessions are checked on the server too: the session carries the operator's
`session_generation`, compared on every request; log-out, deactivation and a password reset
raise it (`end_sessions`), so every copy of the cookie stops working at once (on every device
of that operator: a log-out ends all of that operator's sessions).

Session hardening: the cookie is HttpOnly, SameSite=Lax and Secure when configured; the session
is cleared and given a fresh identifier at log-in (no session fixation); it ends after
`web.session_idle_minutes` without a request and after `web.session_max_hours` in any case,
both measured on the app's clock. After `web.login_max_failures` failed log-ins in a row the
account is locked for `web.login_lockout_minutes`, and after `web.login_max_failures_per_ip`
failures from one address that address is refused for as long. Every log-in, failed log-in,
lock-out, expiry and log-out is audited. No "remember me" cookie is ever set.

The JSON API does not use the session: it authenticates with a bearer token whose SHA-256 is
stored in Operator.api_token_hash (`issue_api_token`, `operator_for_api_token`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from db.audit import record_audit
from db.models import AuditEvent, Operator, Role
from web.common import client_ip, current_clock
from web.runtime import current_db, current_settings

bp = Blueprint("auth", __name__)

login_manager = LoginManager()

# Where Flask-Login keeps the logged-in operator's id in the session.
SESSION_USER_KEY = "_user_id"
# The operator's session generation at log-in (see end_sessions).
SESSION_GENERATION_KEY = "generation"

ROLE_LABELS: dict[Role, str] = {
    Role.CENTRALIST: "centralist",
    Role.SUPERVISOR: "supervisor",
    Role.ADMIN: "beheerder",
}

# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

LOGIN_FAILED = "Inloggen mislukt: onbekende gebruikersnaam of onjuist wachtwoord."


def has_role(operator: Operator | None, role: Role) -> bool:
    return operator is not None and Role(operator.role).includes(role)


# --- wiring ---------------------------------------------------------------------------------


def init_login(app: Flask) -> None:
    """Harden the session cookie and attach Flask-Login (called by `create_app()`)."""
    web = app.extensions["burgernet.settings"].web
    app.config.update(
        SESSION_COOKIE_NAME="burgernet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_max_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=web.session_cookie_secure,
    )
    login_manager.login_view = "auth.login"
    login_manager.init_app(app)


# --- the current operator -------------------------------------------------------------------


class SessionUser(UserMixin):
    """Flask-Login's user: the logged-in operator, loaded for this request and detached."""

    def __init__(self, operator: Operator):
        self.operator = operator
        self.id = operator.id

    @property
    def is_active(self) -> bool:
        return bool(self.operator.active)


@login_manager.user_loader
def _load_operator(user_id: str) -> SessionUser | None:
    """The operator of the session, in its own database session and detached (expire_on_commit
    is off), so views can read its fields; views that change it load it again in their
    transaction. A removed or deactivated operator loses the session."""
    try:
        operator_id = int(user_id)
    except (TypeError, ValueError):
        operator_id = None
    operator = None
    if operator_id is not None:
        with current_db().session() as s:
            operator = s.get(Operator, operator_id)
            if operator is not None:
                _ = operator.control_room  # loaded now, readable after the session closes
                s.expunge(operator)
    if (
        operator is None
        or not operator.active
        # A signed session from before this check carries no generation: it counts as 0.
        or session.get(SESSION_GENERATION_KEY, 0) != (operator.session_generation or 0)
    ):
        session.clear()
        return None
    return SessionUser(operator)


def end_sessions(operator: Operator) -> None:
    """End every session of this operator, every copy of its cookie included (the caller
    commits): the generation stored in each session no longer matches."""
    operator.session_generation = (operator.session_generation or 0) + 1


@login_manager.unauthorized_handler
def _unauthorized():
    """Anonymous: a page asked for by a browser -> the log-in page; anything else -> 401."""
    if request.method == "GET" and not _wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def current_operator() -> Operator | None:
    """The logged-in, active operator of this request, or None (loaded once per request)."""
    if not current_user.is_authenticated:
        return None
    return current_user.operator


def login_required(view: Callable | None = None, *, role: Role = Role.CENTRALIST):
    """Guard a view: anonymous -> redirect to the log-in page (401 for JSON and non-GET);
    too low a role -> 403."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            operator = current_operator()
            if operator is None:
                return login_manager.unauthorized()
            if not has_role(operator, role):
                abort(403)
            return fn(*args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorate(view) if view is not None else decorate


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.best == "application/json" or accept.best == "text/event-stream"


# --- session timeouts -----------------------------------------------------------------------


@bp.before_app_request
def _enforce_session_timeouts():
    if SESSION_USER_KEY not in session:
        return None
    web = current_settings().web
    now = current_clock().now()
    last_seen = _parse_time(session.get("last_seen"))
    logged_in = _parse_time(session.get("logged_in_at"))
    idle = last_seen is None or now - last_seen > timedelta(minutes=web.session_idle_minutes)
    too_old = logged_in is None or now - logged_in > timedelta(hours=web.session_max_hours)
    if idle or too_old:
        operator_id = _as_int(session.get(SESSION_USER_KEY))
        session.clear()
        logout_user()
        with current_db().transaction() as s:
            record_audit(
                s,
                "auth.session_expired",
                actor=f"operator:{operator_id}",
                target_type="operator",
                target_id=operator_id,
                ip=client_ip(),
                reason="idle" if idle else "max_age",
            )
        if request.endpoint not in ("static", "auth.login"):
            flash("Uw sessie is verlopen. Log opnieuw in.", "warning")
        return None
    # Server-sent event streams keep a page open; they must not keep an idle session alive.
    if request.endpoint and not request.endpoint.endswith("_stream"):
        session["last_seen"] = now.isoformat()
    return None


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- log in and out -------------------------------------------------------------------------


def _audit(s: Session, now: datetime, event: str, **fields) -> None:
    """An audit row stamped with the app's clock (the per-address limit counts by it)."""
    record_audit(s, event, **fields).at = now


class LoginRefused(Exception):
    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


def authenticate(s: Session, username: str, password: str, now: datetime) -> Operator:
    """Check a username and password; count failures and lock the account after too many.

    Raises LoginRefused with a Dutch message. The caller commits (failures are recorded too).
    """
    web = current_settings().web
    ip = client_ip()
    since = now - timedelta(minutes=web.login_lockout_minutes)
    if (
        ip
        and (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event == "auth.login_failed", AuditEvent.ip == ip, AuditEvent.at >= since)
            )
            or 0
        )
        >= web.login_max_failures_per_ip
    ):
        _audit(
            s,
            now,
            "auth.login_refused",
            actor=username.strip()[:120] or "?",
            ip=ip,
            reason="too_many_from_address",
        )
        raise LoginRefused(
            "Te veel mislukte inlogpogingen vanaf dit adres. "
            f"Probeer het over {web.login_lockout_minutes} minuten opnieuw."
        )
    operator = s.scalar(select(Operator).where(Operator.username == username.strip()))
    if operator is None or not operator.active:
        check_password_hash(_DUMMY_HASH, password)
        _audit(s, now, "auth.login_failed", actor=username.strip()[:120] or "?", ip=ip, reason="unknown_user")
        raise LoginRefused(LOGIN_FAILED)
    if operator.locked_until is not None and operator.locked_until > now:
        minutes = max(1, int((operator.locked_until - now).total_seconds() // 60) + 1)
        _audit(
            s,
            now,
            "auth.login_failed",
            operator=operator,
            target_type="operator",
            target_id=operator.id,
            ip=ip,
            reason="locked",
            minutes_left=minutes,
        )
        # The same answer as for an unknown name or a wrong password: a different one would
        # tell an attacker that this username exists. The lock-out is audited (above).
        check_password_hash(_DUMMY_HASH, password)
        raise LoginRefused(LOGIN_FAILED)
    if not check_password_hash(operator.password_hash, password):
        operator.failed_logins = (operator.failed_logins or 0) + 1
        _audit(
            s,
            now,
            "auth.login_failed",
            operator=operator,
            target_type="operator",
            target_id=operator.id,
            ip=ip,
            reason="wrong_password",
            failed_logins=operator.failed_logins,
        )
        if operator.failed_logins >= web.login_max_failures:
            operator.locked_until = now + timedelta(minutes=web.login_lockout_minutes)
            operator.failed_logins = 0
            _audit(
                s,
                now,
                "auth.locked",
                operator=operator,
                target_type="operator",
                target_id=operator.id,
                ip=ip,
                until=operator.locked_until.isoformat(),
            )
        raise LoginRefused(LOGIN_FAILED)
    operator.failed_logins = 0
    operator.locked_until = None
    return operator


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_operator() is not None:
            return redirect(url_for("console.index"))
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next", ""))
    now = current_clock().now()
    error: LoginRefused | None = None
    with current_db().transaction() as s:
        try:
            operator = authenticate(s, username, password, now)
        except LoginRefused as refused:
            error = refused
        else:
            operator.last_login_at = now
            _audit(
                s,
                now,
                "auth.login",
                operator=operator,
                target_type="operator",
                target_id=operator.id,
                ip=client_ip(),
            )
    if error is not None:
        return render_template(
            "auth/login.html", next=target, error=error.user_message, username=username
        ), 401
    # Rotate: nothing of the anonymous session survives (its CSRF token neither), and the new
    # one gets a new identity.
    session.clear()
    session.permanent = True
    login_user(SessionUser(operator), remember=False)
    session["sid"] = secrets.token_urlsafe(16)
    session[SESSION_GENERATION_KEY] = operator.session_generation or 0
    session["logged_in_at"] = now.isoformat()
    session["last_seen"] = now.isoformat()
    return redirect(target or url_for("console.index"))


@bp.post("/logout")
def logout():
    operator = current_operator()
    if operator is not None:
        with current_db().transaction() as s:
            stored = s.get(Operator, operator.id)
            if stored is not None:
                end_sessions(stored)
            record_audit(
                s,
                "auth.logout",
                operator=operator,
                target_type="operator",
                target_id=operator.id,
                ip=client_ip(),
            )
    session.clear()
    logout_user()
    flash("U bent uitgelogd.", "info")
    return redirect(url_for("auth.login"))


def _safe_next(target: str) -> str:
    """Only same-site relative paths; anything else (//evil, http://...) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return ""
    return target


# --- API tokens -----------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(s: Session, operator: Operator) -> str:
    """A new random API token for this operator; only its SHA-256 is stored. Shown once."""
    token = "bn_" + secrets.token_urlsafe(32)
    operator.api_token_hash = _token_digest(token)
    return token


def revoke_api_token(operator: Operator) -> None:
    operator.api_token_hash = None


def operator_for_api_token(s: Session, token: str) -> Operator | None:
    """The active operator holding this token, or None. Tokens are long random strings, so an
    unsalted SHA-256 is safe to store and look up by; the comparison is constant-time."""
    if not token or len(token) > 200:
        return None
    digest = _token_digest(token)
    operator = s.scalar(select(Operator).where(Operator.api_token_hash == digest))
    if operator is None or not operator.active:
        return None
    if not hmac.compare_digest(operator.api_token_hash or "", digest):
        return None
    return operator


# --- layout helpers for templates -----------------------------------------------------------

# (endpoint, Dutch label, lowest role). Entries whose blueprint is not registered are skipped.
NAVIGATION: list[tuple[str, str, Role]] = [
    ("console.index", "Acties", Role.CENTRALIST),
    ("console.new_action", "Nieuwe actie", Role.CENTRALIST),
    ("console.callback_line_page", "Terugbellijn", Role.CENTRALIST),
    ("console.audit_log", "Logboek", Role.SUPERVISOR),
    ("evaluation.index", "Evaluatie", Role.SUPERVISOR),
    ("admin.index", "Beheer", Role.ADMIN),
]


def nav_items() -> list[dict]:
    operator = current_operator()
    items = []
    for endpoint, label, role in NAVIGATION:
        if endpoint not in current_app.view_functions or not has_role(operator, role):
            continue
        url = url_for(endpoint)
        items.append({"url": url, "label": label, "active": request.endpoint == endpoint})
    return items


def role_label(role) -> str:
    return ROLE_LABELS.get(Role(role), str(role))


@bp.app_context_processor
def _layout_context() -> dict:
    return {
        "operator": current_operator(),
        "settings": current_settings(),
        "nav_items": nav_items,
        "role_label": role_label,
        "has_endpoint": _has_endpoint,
    }


def _has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions
