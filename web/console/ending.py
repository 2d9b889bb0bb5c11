"""Ending an action (actions.end): the outcome message's preview, and the end itself."""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for

from actions.end import checked_outcome, end_action
from actions.errors import ActionError, InvalidActionRequest
from actions.request import check_outcome_fits
from db.models import Operator
from prompts.callback_number import callback_number_for
from prompts.errors import PromptError
from prompts.messages import compose_outcome
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404
from web.runtime import current_db, current_settings


@bp.post("/actions/<int:action_id>/outcome-preview")
@login_required
def outcome_preview(action_id: int):
    operator = current_operator()
    settings = current_settings()
    try:
        outcome, note = checked_outcome(request.form.get("outcome", ""), request.form.get("note", ""))
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "errors": invalid.errors})
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        try:
            check_outcome_fits(outcome, action.incident_type.value)
        except InvalidActionRequest as invalid:
            return jsonify({"ok": False, "errors": invalid.errors})
        try:
            message = compose_outcome(
                outcome,
                action.incident_type.value,
                callback_number_for(action.control_room, settings.callback_number),
                note,
            )
        except PromptError as error:
            return jsonify({"ok": False, "errors": {"note": error.user_message}})
    return jsonify(
        {
            "ok": True,
            "display_text": message.display,
            "sms": message.sms,
            "sms_segments": message.sms_segments,
        }
    )


@bp.post("/actions/<int:action_id>/end", endpoint="end_action")
@login_required
def end(action_id: int):
    operator = current_operator()
    try:
        outcome, note = checked_outcome(request.form.get("outcome", ""), request.form.get("note", ""))
    except InvalidActionRequest as invalid:
        for message in invalid.errors.values():
            flash(message, "error")
        return redirect(url_for("console.action_page", action_id=action_id) + "#beeindigen")
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        try:
            # one commit: queued rows are cancelled together with the status change
            end_action(
                s, action, s.get(Operator, operator.id), outcome, note, current_clock(), current_settings()
            )
        except ActionError as error:
            s.rollback()
            flash(error.user_message, "error")
            return redirect(url_for("console.action_page", action_id=action_id))
    flash("De actie is beëindigd. Het afloopbericht gaat naar iedereen die is bereikt.", "success")
    return redirect(url_for("console.action_page", action_id=action_id))
