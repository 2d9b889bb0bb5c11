"""The sightings of an action (callback_line.inbox): the recording, and marking one handled."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, send_file, url_for

from actions.request import clean_text
from callback_line.inbox import SightingNotFound, mark_handled, recording_file
from db.models import Action, Operator, Sighting
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404
from web.runtime import current_db, current_settings


@bp.get("/sightings/<int:sighting_id>/audio")
@login_required
def sighting_audio(sighting_id: int):
    """The recorded sighting, for the <audio> element of the inbox (own control room only)."""
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        sighting = s.get(Sighting, sighting_id)
        if sighting is None:
            abort(404)
        room_id = sighting.control_room_id
        if room_id is None and sighting.action_id is not None:
            room_id = s.get(Action, sighting.action_id).control_room_id
        if room_id != operator.control_room_id:
            abort(404)
        try:
            path = recording_file(settings.recordings_dir, sighting.recording_path)
        except SightingNotFound:
            abort(404)
    mime = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}.get(path.suffix, "audio/wav")
    return send_file(path, mimetype=mime, conditional=True)


@bp.post("/sightings/<int:sighting_id>/handle")
@login_required
def handle_sighting(sighting_id: int):
    operator = current_operator()
    errors: dict[str, str] = {}
    note = clean_text(
        request.form.get("note", ""), label="Notitie", max_chars=1000, errors=errors, key="note"
    )
    with current_db().transaction() as s:
        sighting = s.get(Sighting, sighting_id)
        if sighting is None:
            abort(404)
        action = action_or_404(s, sighting.action_id, operator)
        wants_json = request.accept_mimetypes.best == "application/json"
        if errors:
            if not wants_json:
                flash(errors["note"], "error")
        else:  # audited by the inbox
            mark_handled(s, sighting_id, s.get(Operator, operator.id), current_clock(), note)
        action_id = action.id
    if wants_json:
        return jsonify({"ok": not errors, "errors": errors})
    return redirect(url_for("console.action_page", action_id=action_id) + "#meldingen")
