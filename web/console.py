"""The centralist's console: actions overview, new-action form with live preview, the
confirmation that states the numbers, the live action page, ending an action.

Every page needs a logged-in operator and shows only the operator's own control room.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from actions.service import ActionError, action_progress
from actions.service import end_action as dialer_end_action
from callback_line.inbox import SightingNotFound, list_sightings, mark_handled, recording_file
from config.logging import mask_phone
from db.models import Action, ActionStatus, AuditEvent, Operator, Participant, Role, Sighting
from participants.addresses import (
    InvalidAddress,
    normalise_addition,
    normalise_postcode,
    parse_house_number,
)
from participants.geocoding import (
    AddressQuery,
    GazetteerGeocoder,
    GeocoderChain,
    GeocoderUnavailable,
    GeocodingError,
    PdokGeocoder,
)
from prompts.audio import _paths as cached_paths
from prompts.audio import render
from prompts.errors import PromptError
from prompts.messages import compose_alert, compose_outcome
from web import actions as svc
from web.action_form import (
    CHANNEL_LABELS,
    CONSENT_TYPES,
    INCIDENT_LABELS,
    NORMS,
    OUTCOME_LABELS,
    InvalidActionRequest,
    check_message_fields,
    clean_text,
)
from web.auth import LoginRefused, authenticate, current_operator, login_required
from web.common import client_ip, current_clock
from web.runtime import current_db, current_settings

bp = Blueprint("console", __name__)


# --- overview -------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    operator = current_operator()
    db = current_db()
    with db.session() as s:
        rows = s.scalars(
            select(Action)
            .where(Action.control_room_id == operator.control_room_id)
            .order_by(Action.created_at.desc(), Action.id.desc())
            .limit(200)
        ).all()
        by_action = svc.figures_for(s, list(rows))
        listed = [(a, by_action[a.id]) for a in rows]
        participants = s.scalar(select(func.count()).select_from(Participant)) or 0
    order = {ActionStatus.RUNNING: 0, ActionStatus.DRAFT: 1, ActionStatus.ENDED: 2}
    listed.sort(key=lambda pair: order[pair[0].status])
    return render_template(
        "console/index.html",
        listed=listed,
        participants=participants,
        database=db.engine.dialect.name,
        labels=_labels(),
    )


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


def _labels() -> dict:
    return {"incident": INCIDENT_LABELS, "outcome": OUTCOME_LABELS, "channel": CHANNEL_LABELS,
            "status": {"draft": "concept", "running": "loopt", "ended": "beëindigd"}}


# --- the form -------------------------------------------------------------------------------


def form_values(form: MultiDict) -> tuple[dict, dict]:
    """Flatten the posted form into (values, description) for web.actions.validate."""
    incident_type = form.get("incident_type", "")
    prefix = f"d__{incident_type}__"
    description = {key[len(prefix):]: value for key, value in form.items()
                   if key.startswith(prefix) and value.strip() != ""}
    values = {
        "incident_type": incident_type,
        "free_text": form.get("free_text", ""),
        "lat": form.get("lat", ""),
        "lon": form.get("lon", ""),
        "location_label": form.get("location_label", ""),
        "radius_m": form.get("radius_m", ""),
        "channels": form.getlist("channels"),
        "norms": {name: form.get(f"norm_{name}") == "on" for name in NORMS},
    }
    return values, description


def geocode_into(values: dict, form: MultiDict) -> None:
    """When no point was clicked, look the address up (participants.geocoding)."""
    if values.get("lat") and values.get("lon"):
        return
    postcode = form.get("postcode", "").strip()
    number = form.get("house_number", "").strip()
    if not postcode and not number:
        return
    point = geocode_address(postcode, number, form.get("addition", "").strip())
    values["lat"], values["lon"] = point["lat"], point["lon"]
    if not values.get("location_label"):
        values["location_label"] = point["label"]


def geocode_address(postcode: str, number: str, addition: str = "") -> dict:
    """Geocode a postcode + house number: the local gazetteer first, then PDOK.

    Raises InvalidActionRequest with a Dutch message (key "location") when it cannot."""

    settings = current_settings()
    try:
        query = AddressQuery(normalise_postcode(postcode), parse_house_number(number),
                             normalise_addition(addition))
    except InvalidAddress as invalid:
        raise InvalidActionRequest({"location": invalid.user_message}) from invalid
    label = f"{query.postcode} {query.house_number}{query.house_number_addition}"
    with current_db().session() as s:
        chain = GeocoderChain([GazetteerGeocoder(s)] + (
            [PdokGeocoder(settings.pdok_base_url, settings.geocoder_timeout_s)]
            if settings.pdok_base_url else []))
        try:
            result = chain.geocode(query)
        except GeocoderUnavailable as error:
            raise InvalidActionRequest({"location": "De adreszoeker is niet bereikbaar. "
                                        "Klik de locatie op de kaart aan."}) from error
        except GeocodingError as error:
            raise InvalidActionRequest({"location": f"Adres {label} niet gevonden. Controleer "
                                        "postcode en huisnummer, of klik op de kaart."}) from error
    if result.street:
        label = f"{result.street} {query.house_number}{query.house_number_addition}, {result.city or query.postcode}"
    return {"lat": round(result.lat, 6), "lon": round(result.lon, 6), "label": label}


def _render_form(values: dict | None = None, description: dict | None = None,
                 errors: dict | None = None, draft: Action | None = None, status: int = 200):
    settings = current_settings()
    specs = {t: svc.field_specs(t) for t in INCIDENT_LABELS}
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
        labels=_labels(),
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
        action = _action_or_404(s, action_id, operator)
        if action.status != ActionStatus.DRAFT:
            return redirect(url_for("console.action_page", action_id=action_id))
        values = {
            "incident_type": action.incident_type.value, "free_text": action.free_text,
            "lat": action.lat, "lon": action.lon, "location_label": action.location_label,
            "radius_m": action.radius_m, "channels": list(action.channels),
        }
        return _render_form(values, dict(action.description or {}), draft=action)


@bp.post("/actions/<int:action_id>/edit")
@login_required
def update_action(action_id: int):
    return _save_form(draft_id=action_id)


def _save_form(draft_id: int | None):
    operator = current_operator()
    settings = current_settings()
    values, description = form_values(request.form)
    try:
        geocode_into(values, request.form)
        validated = svc.validate(values, description, settings)
    except InvalidActionRequest as invalid:
        return _render_form(values, description, invalid.errors, status=422)
    with current_db().transaction() as s:
        draft = _action_or_404(s, draft_id, operator) if draft_id else None
        try:
            action = svc.save_draft(s, validated, operator, settings, action=draft, ip=client_ip())
        except svc.ConsoleError as error:
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
        validated = svc.validate(values, description, settings, require_norms=False)
        with current_db().session() as s:
            result = svc.preview(s, validated, operator.control_room_id, current_clock().now(), settings)
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "errors": invalid.errors,
                        "lat": values.get("lat"), "lon": values.get("lon")}), 200
    return jsonify({"ok": True, **result.as_json()})


@bp.post("/actions/preview/audio")
@login_required
def preview_audio():
    """Render the spoken alert (prompts.audio) and return the URL where the browser plays it."""

    settings = current_settings()
    values, description = form_values(request.form)
    try:
        incident_type, checked, free_text = check_message_fields(
            values, description, svc.field_specs(values["incident_type"]),
            max_description_chars=settings.web.max_description_chars)
        message = svc.compose_text(incident_type, checked, free_text, settings.callback_number)
        rendered = render(message.voice, settings)
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "errors": invalid.errors}), 200
    except PromptError as error:
        return jsonify({"ok": False, "errors": {"audio": error.user_message}}), 200
    return jsonify({"ok": True, "url": url_for("console.prompt_audio", key=rendered.key),
                    "duration_s": round(rendered.duration_s, 1)})


@bp.get("/audio/prompt/<key>")
@login_required
def prompt_audio(key: str):
    """A rendered prompt's browser-playable WAV from the audio cache, by its key."""

    if not key.isalnum() or len(key) > 128:
        abort(404)
    path = cached_paths(current_settings().audio_cache_dir, key)["web"]
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True)


@bp.post("/geocode")
@login_required
def geocode():
    try:
        point = geocode_address(request.form.get("postcode", ""), request.form.get("house_number", "").strip(),
                                request.form.get("addition", ""))
    except InvalidActionRequest as invalid:
        return jsonify({"ok": False, "error": invalid.user_message})
    return jsonify({"ok": True, **point})


# --- confirm and start ----------------------------------------------------------------------


@bp.get("/actions/<int:action_id>/confirm")
@login_required
def confirm_action(action_id: int):
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        action = _action_or_404(s, action_id, operator)
        if action.status != ActionStatus.DRAFT:
            return redirect(url_for("console.action_page", action_id=action_id))
        try:
            result = svc.preview(s, svc.request_from_action(action), action.control_room_id,
                                 current_clock().now(), settings)
        except InvalidActionRequest as invalid:
            flash(invalid.user_message, "error")
            return redirect(url_for("console.edit_action", action_id=action_id))
        return render_template("console/confirm.html", action=action, preview=result,
                               channel_plural={"voice": "spraakoproepen", "sms": "sms",
                                               "email": "e-mails"},
                               labels=_labels(), eta=_duration(result.eta_s),
                               is_supervisor=operator.role in (Role.SUPERVISOR, Role.ADMIN))


@bp.post("/actions/<int:action_id>/start")
@login_required
def start_action(action_id: int):
    operator = current_operator()
    settings = current_settings()
    form = request.form
    expected = form.get("expected_total", "")
    if not expected.isdigit():
        abort(400, description="Het bevestigde aantal ontvangers ontbreekt.")
    db = current_db()
    supervisor = None
    if form.get("supervisor_username"):
        supervisor, refused = _supervisor_login(form.get("supervisor_username", ""),
                                                form.get("supervisor_password", ""))
        if refused:
            flash(refused, "error")
            return redirect(url_for("console.confirm_action", action_id=action_id))

    with db.session() as s:
        action = _action_or_404(s, action_id, operator)
        try:
            svc.start(s, action, operator, current_clock(), settings,
                      expected_total=int(expected), supervisor=supervisor, ip=client_ip())
        except (svc.ConsoleError, InvalidActionRequest, ActionError) as error:
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


# --- the live action page -------------------------------------------------------------------


@bp.get("/actions/<int:action_id>")
@login_required
def action_page(action_id: int):
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        action = _action_or_404(s, action_id, operator)
        if action.status == ActionStatus.DRAFT:
            return redirect(url_for("console.confirm_action", action_id=action_id))
        snapshot = live_snapshot(s, action, settings)
        people = {o.id: o.display_name for o in s.scalars(select(Operator).where(
            Operator.id.in_([i for i in (action.started_by_id, action.ended_by_id,
                                          action.supervisor_confirmed_by_id) if i])))}
        return render_template(
            "console/action.html", action=action, snapshot=snapshot, labels=_labels(),
            display_text=_display_text(action, settings),
            figures=svc.figures(s, action), people=people, web=settings.web,
            outcomes=OUTCOME_LABELS, duration=_duration,
        )


@bp.get("/actions/<int:action_id>/progress.json")
@login_required
def action_progress_json(action_id: int):
    operator = current_operator()
    with current_db().session() as s:
        action = _action_or_404(s, action_id, operator)
        return jsonify(live_snapshot(s, action, current_settings()))


@bp.get("/actions/<int:action_id>/events")
@login_required
def action_events_stream(action_id: int):
    """Server-sent events: a snapshot of progress and sightings every web.live_interval_s.

    The stream ends after a few minutes (the browser's EventSource reconnects on its own, and
    the reconnect checks the session again) and shortly after the action has ended."""
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        _action_or_404(s, action_id, operator)
    db = current_db()
    interval = max(0.2, settings.web.live_interval_s)
    deadline = time.monotonic() + 300

    def events():
        last = None
        ended_ticks = 0
        while time.monotonic() < deadline:
            with db.session() as s:
                action = s.get(Action, action_id)
                snapshot = live_snapshot(s, action, settings)
            payload = json.dumps(snapshot, default=_json_default, separators=(",", ":"))
            if payload != last:
                yield f"event: progress\ndata: {payload}\n\n"
                last = payload
            else:
                yield ": keep-alive\n\n"
            if snapshot["status"] == ActionStatus.ENDED.value:
                ended_ticks += 1
                if ended_ticks > 3:
                    return
            time.sleep(interval)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def live_snapshot(s, action: Action, settings) -> dict:
    """Progress from the dialer plus the sightings inbox, as plain JSON-able data."""

    progress = action_progress(s, action.id, current_clock(), settings)
    sightings = []
    for item in list_sightings(s, action.id):
        data = _plain(item)
        sid = data.get("id") or data.get("sighting_id")
        data["audio_url"] = (url_for("console.sighting_audio", sighting_id=sid)
                             if data.get("recording_path") else None)
        data["handle_url"] = url_for("console.handle_sighting", sighting_id=sid)
        data.pop("recording_path", None)
        data["caller"] = mask_phone(data.pop("caller_number", None)) or "anoniem"
        sightings.append(data)
    figures = svc.figures(s, action)
    return {
        "action_id": action.id,
        "status": action.status.value,
        "outcome": action.outcome.value if action.outcome else None,
        "progress": _plain(progress),
        "figures": _plain(figures),
        "sightings": sightings,
    }


def _plain(value):
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    elif hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return _json_default(value) if isinstance(value, (Enum, datetime, Path)) else value


def _json_default(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# --- sightings ------------------------------------------------------------------------------


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
    note = clean_text(request.form.get("note", ""), label="Notitie", max_chars=1000,
                      errors=errors, key="note")
    with current_db().transaction() as s:
        sighting = s.get(Sighting, sighting_id)
        if sighting is None:
            abort(404)
        action = _action_or_404(s, sighting.action_id, operator)
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


# --- ending ---------------------------------------------------------------------------------


@bp.post("/actions/<int:action_id>/outcome-preview")
@login_required
def outcome_preview(action_id: int):
    operator = current_operator()
    settings = current_settings()
    outcome, note, errors = _outcome_form()
    if errors:
        return jsonify({"ok": False, "errors": errors})
    with current_db().session() as s:
        action = _action_or_404(s, action_id, operator)
        room = action.control_room
        try:
            message = compose_outcome(outcome, action.incident_type.value,
                                      svc.callback_number_for(room, settings), note)
        except PromptError as error:
            return jsonify({"ok": False, "errors": {"note": error.user_message}})
    return jsonify({"ok": True, "display_text": message.display, "sms": message.sms,
                    "sms_segments": message.sms_segments})


@bp.post("/actions/<int:action_id>/end")
@login_required
def end_action(action_id: int):
    operator = current_operator()
    settings = current_settings()
    outcome, note, errors = _outcome_form()
    if errors:
        for message in errors.values():
            flash(message, "error")
        return redirect(url_for("console.action_page", action_id=action_id) + "#beeindigen")

    with current_db().session() as s:
        action = _action_or_404(s, action_id, operator)
        try:
            # the dialer commits: queued rows are cancelled together with the status change
            dialer_end_action(s, action, s.get(Operator, operator.id), outcome, note,
                              current_clock(), settings)
        except ActionError as error:
            s.rollback()
            flash(error.user_message, "error")
            return redirect(url_for("console.action_page", action_id=action_id))
    flash("De actie is beëindigd. Het afloopbericht gaat naar iedereen die is bereikt.", "success")
    return redirect(url_for("console.action_page", action_id=action_id))


# --- helpers --------------------------------------------------------------------------------


def _outcome_form() -> tuple[str, str, dict[str, str]]:
    """The outcome and note of the end-of-action form, with Dutch errors by field."""
    errors: dict[str, str] = {}
    note = clean_text(request.form.get("note", ""), label="Toelichting", max_chars=300,
                      errors=errors, key="note")
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOME_LABELS:
        errors["outcome"] = "Kies de afloop van de actie."
    return outcome, note, errors


def _action_or_404(s, action_id: int | None, operator: Operator) -> Action:
    try:
        return svc.action_for(s, action_id or 0, operator)
    except svc.ConsoleError as error:
        abort(404, description=error.user_message)


def _display_text(action: Action, settings) -> str:
    """The alert as written (the frozen voice text is in spoken form: "nul acht nul nul")."""

    try:
        return compose_alert(action.incident_type.value, dict(action.description or {}),
                             action.free_text or "",
                             svc.callback_number_for(action.control_room, settings)).display
    except PromptError:
        return action.voice_text or ""


@bp.app_template_filter("localtime")
def localtime(moment: datetime | None, fmt: str = "%d-%m-%Y %H:%M:%S") -> str:
    """A stored UTC time in the control room's local time (settings.timezone)."""
    from zoneinfo import ZoneInfo

    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(current_settings().timezone)).strftime(fmt)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} u {minutes:02d} min"


# --- the audit trail (supervisors) ----------------------------------------------------------

AUDIT_LABELS = {
    "auth.login": "ingelogd", "auth.login_failed": "inloggen mislukt", "auth.logout": "uitgelogd",
    "auth.locked": "account geblokkeerd", "auth.session_expired": "sessie verlopen",
    "action.created": "actie aangemaakt", "action.changed": "actie gewijzigd",
    "action.started": "actie gestart", "action.supervisor_confirmed": "bevestigd door supervisor",
    "action.ended": "actie beëindigd", "sighting.handled": "melding afgehandeld",
}


@bp.get("/audit")
@login_required(role=Role.SUPERVISOR)
def audit_log():
    """Who did what in this control room: log-ins, actions started, changed and ended."""

    operator = current_operator()
    with current_db().session() as s:
        staff = {o.id: o for o in s.scalars(select(Operator).where(
            Operator.control_room_id == operator.control_room_id))}
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.operator_id.in_(list(staff)))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(300)
        ).all()
        return render_template("console/audit.html", events=events, staff=staff,
                               audit_labels=AUDIT_LABELS)
