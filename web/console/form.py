"""The new-action form: show, save as draft (actions.drafts), the live preview of the figures
(actions.preview) and of the spoken message (prompts.audio), and the address search
(actions.location)."""

from __future__ import annotations

import json

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from actions.drafts import discard_draft, save_draft
from actions.errors import ActionError, InvalidActionRequest
from actions.location import Location, locate_address
from actions.norms import CONSENT_TYPES, NORMS
from actions.preview import preview_action
from actions.request import (
    CHANNEL_LABELS,
    INCIDENT_LABELS,
    check_message_fields,
    compose_text,
    field_specs,
    validate_request,
)
from db.models import Action, ActionStatus, Operator
from prompts.audio import find_cached, render
from prompts.callback_number import callback_number_for
from prompts.errors import PromptError
from web.action_form import form_values
from web.audio_links import CONSOLE_AUDIO_TTL_S, audio_key, sign_audio
from web.auth import current_operator, login_required
from web.common import client_ip, current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404, labels
from web.formatting import local_text
from web.runtime import current_db, current_settings
from web.validation import HOUSE_NUMBER_MESSAGE, MAX_HOUSE_NUMBER, parse_int


def geocode_address(postcode: str, number: str, addition: str = "") -> Location:
    """The point of a postcode + house number; InvalidActionRequest (key "location") if none."""
    if parse_int(number, minimum=1, maximum=MAX_HOUSE_NUMBER) is None:
        raise InvalidActionRequest({"location": HOUSE_NUMBER_MESSAGE})
    with current_db().session() as s:
        return locate_address(s, current_settings(), postcode, number, addition)


def geocode_into(values: dict, form: MultiDict) -> None:
    """When no point was clicked, look the address up."""
    if values.get("lat") and values.get("lon"):
        return
    postcode = form.get("postcode", "").strip()
    number = form.get("house_number", "").strip()
    if not postcode and not number:
        return
    point = geocode_address(postcode, number, form.get("addition", "").strip())
    values["lat"], values["lon"] = point.lat, point.lon
    if not values.get("location_label"):
        values["location_label"] = point.label


def _render_form(
    values: dict | None = None,
    description: dict | None = None,
    errors: dict | None = None,
    draft: Action | None = None,
    status: int = 200,
):
    settings = current_settings()
    specs = {t: field_specs(t) for t in INCIDENT_LABELS}
    values = values or {}
    if "channels" not in values:
        values["channels"] = list(CHANNEL_LABELS)
    return render_template(
        "console/new_action.html",
        specs=specs,
        values=values,
        description=description or {},
        errors=errors or {},
        draft=draft,
        labels=labels(),
        norms=NORMS,
        consent_types=sorted(CONSENT_TYPES),
        radius_defaults=json.dumps(settings.radius_by_incident),
        web=settings.web,
    ), status


@bp.get("/actions/new")
@login_required
def new_action():
    return _render_form()


@bp.post("/actions/new")
@login_required
def create_action():
    return _save_form(draft_id=None)


@bp.get("/actions/<int:action_id>/edit")
@login_required
def edit_action(action_id: int):
    operator = current_operator()
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if action.status != ActionStatus.DRAFT:
            return redirect(url_for("console.action_page", action_id=action_id))
        values = {
            "incident_type": action.incident_type.value,
            "free_text": action.free_text,
            "lat": action.lat,
            "lon": action.lon,
            "location_label": action.location_label,
            "radius_m": action.radius_m,
            "channels": list(action.channels),
        }
        return _render_form(values, dict(action.description or {}), draft=action)


@bp.post("/actions/<int:action_id>/edit")
@login_required
def update_action(action_id: int):
    return _save_form(draft_id=action_id)


@bp.post("/actions/<int:action_id>/discard")
@login_required
def discard_action(action_id: int):
    """Throw a draft away (actions.drafts.discard_draft, audited)."""
    operator = current_operator()
    with current_db().transaction() as s:
        action = action_or_404(s, action_id, operator)
        try:
            discard_draft(s, action, s.get(Operator, operator.id), ip=client_ip())
        except ActionError as error:
            flash(error.user_message, "error")
            return redirect(url_for("console.action_page", action_id=action_id))
    flash(f"Concept-actie {action_id} is weggegooid.", "success")
    return redirect(url_for("console.index"))


def _save_form(draft_id: int | None):
    operator = current_operator()
    settings = current_settings()
    values, description = form_values(request.form)
    try:
        geocode_into(values, request.form)
        validated = validate_request(values, description, settings)
    except InvalidActionRequest as invalid:
        return _render_form(values, description, invalid.errors, status=422)
    with current_db().transaction() as s:
        draft = action_or_404(s, draft_id, operator) if draft_id else None
        try:
            action = save_draft(
                s, validated, operator, operator.control_room_id, settings, action=draft, ip=client_ip()
            )
        except ActionError as error:
            flash(error.user_message, "error")
            return redirect(url_for("console.action_page", action_id=draft_id))
        action_id = action.id
    return redirect(url_for("console.confirm_action", action_id=action_id))


@bp.post("/actions/preview")
@login_required
def preview():
    """The live preview while typing: message, SMS length, recipients by channel, duration."""
    operator = current_operator()
    settings = current_settings()
    values, description = form_values(request.form)
    try:
        geocode_into(values, request.form)
        validated = validate_request(values, description, settings, require_norms=False)
        with current_db().session() as s:
            result = preview_action(s, validated, operator.control_room_id, current_clock().now(), settings)
    except InvalidActionRequest as invalid:
        return jsonify(
            {"ok": False, "errors": invalid.errors, "lat": values.get("lat"), "lon": values.get("lon")}
        ), 200
    held = result.voice_held_until
    return jsonify(
        {"ok": True, **result.as_json(), "voice_held_until_text": local_text(held, "time") if held else None}
    )


@bp.post("/actions/preview/audio")
@login_required
def preview_audio():
    """Render the spoken alert (prompts.audio) and return the URL where the browser plays it."""
    settings = current_settings()
    number = callback_number_for(current_operator().control_room, settings.callback_number)
    values, description = form_values(request.form)
    try:
        incident_type, checked, free_text = check_message_fields(values, description, settings)
        message = compose_text(
            incident_type, checked, free_text, number, location_label=str(values.get("location_label") or "")
        )
        rendered = render(message.voice, settings)
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "errors": invalid.errors}), 200
    except PromptError as error:
        return jsonify({"ok": False, "errors": {"audio": error.user_message}}), 200
    link = sign_audio(
        current_app.config["SECRET_KEY"],
        PREVIEW_PURPOSE,
        rendered.key,
        _room_subject(current_operator().control_room_id),
        current_clock().now(),
        CONSOLE_AUDIO_TTL_S,
    )
    return jsonify(
        {
            "ok": True,
            "url": url_for("console.prompt_audio", token=link.token, **link.as_query()),
            "duration_s": round(rendered.duration_s, 1),
        }
    )


# The purpose of the console's signed preview links (web.audio_links): not valid for Twilio.
PREVIEW_PURPOSE = "console"


def _room_subject(control_room_id: int) -> str:
    return f"room:{control_room_id}"


@bp.get("/audio/prompt/<token>")
@login_required
def prompt_audio(token: str):
    """A rendered preview's browser-playable WAV, by the short-lived link that preview_audio
    signed for the operator's control room (the path carries the cache key sealed): a key
    computed from a guessed text, another room's link or an expired one get 404, like audio
    that was never rendered."""
    args = request.args
    key = audio_key(
        current_app.config["SECRET_KEY"],
        PREVIEW_PURPOSE,
        token,
        args.get("for", ""),
        args.get("exp", ""),
        args.get("sig", ""),
        current_clock().now(),
    )
    if key is None or args.get("for") != _room_subject(current_operator().control_room_id):
        abort(404)
    rendered = find_cached(key, current_settings())
    if rendered is None or not rendered.web.is_file():
        abort(404)
    return send_file(rendered.web, mimetype="audio/wav", conditional=True)


@bp.post("/geocode")
@login_required
def geocode():
    try:
        point = geocode_address(
            request.form.get("postcode", ""),
            request.form.get("house_number", "").strip(),
            request.form.get("addition", ""),
        )
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "error": invalid.user_message})
    return jsonify({"ok": True, "lat": point.lat, "lon": point.lon, "label": point.label})
