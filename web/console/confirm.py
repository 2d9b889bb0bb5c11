"""The confirmation page, which states the numbers, and the start: actions.start.start_action,
the same function the JSON API and the CLI call. A supervisor confirms an oversized action on
the spot with their own password."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from actions.errors import ActionError, InvalidActionRequest
from actions.preview import preview_action
from actions.request import request_from_action
from actions.start import start_action
from actions.supervisor import is_supervisor
from db.models import ActionStatus, Operator
from web.auth import LoginRefused, authenticate, current_operator, login_required
from web.common import client_ip, current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404, duration, labels
from web.runtime import current_db, current_settings
from web.validation import parse_int

CHANNEL_PLURAL = {"voice": "spraakoproepen", "sms": "sms", "email": "e-mails"}


@bp.get("/actions/<int:action_id>/confirm")
@login_required
def confirm_action(action_id: int):
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if action.status != ActionStatus.DRAFT:
            return redirect(url_for("console.action_page", action_id=action_id))
        try:
            result = preview_action(
                s, request_from_action(action), action.control_room_id, current_clock().now(), settings
            )
        except InvalidActionRequest as invalid:
            flash(invalid.user_message, "error")
            return redirect(url_for("console.edit_action", action_id=action_id))
        return render_template(
            "console/confirm.html",
            action=action,
            preview=result,
            channel_plural=CHANNEL_PLURAL,
            labels=labels(),
            eta=duration(result.eta_s),
            is_supervisor=is_supervisor(operator),
        )


@bp.post("/actions/<int:action_id>/start", endpoint="start_action")
@login_required
def start(action_id: int):
    operator = current_operator()
    form = request.form
    expected = parse_int(form.get("expected_total"))
    if expected is None:
        abort(400, description="Het bevestigde aantal ontvangers ontbreekt.")
    supervisor = None
    if form.get("supervisor_username"):
        supervisor, refused = _supervisor_login(
            form.get("supervisor_username", ""), form.get("supervisor_password", "")
        )
        if refused:
            flash(refused, "error")
            return redirect(url_for("console.confirm_action", action_id=action_id))
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        try:
            start_action(
                s,
                action,
                operator,
                current_clock(),
                current_settings(),
                expected_total=expected,
                supervisor=supervisor,
                ip=client_ip(),
            )
        except (ActionError, InvalidActionRequest) as error:
            s.rollback()
            flash(error.user_message, "error")
            return redirect(url_for("console.confirm_action", action_id=action_id))
    flash("De actie is gestart. Deelnemers worden nu benaderd.", "success")
    return redirect(url_for("console.action_page", action_id=action_id))


def _supervisor_login(username: str, password: str) -> tuple[Operator | None, str | None]:
    """A supervisor confirms on the spot with their own password (counted like a log-in)."""
    with current_db().transaction() as s:
        try:
            supervisor = authenticate(s, username, password, current_clock().now())
        except LoginRefused as refused:
            return None, "Bevestiging door supervisor mislukt: " + refused.user_message
        s.expunge(supervisor)
    return supervisor, None
