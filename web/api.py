"""JSON API for the control-room system: start, read, change and end actions (docs/api.md).

Authentication is a bearer token per operator (`Authorization: Bearer bn_...`), never the
session cookie, so the blueprint is exempt from CSRF. The rules are the actions package's, the
same functions the console and the CLI call, with the same Dutch messages. Starting takes two
calls, like the console: create (the answer states the numbers) and start with the number
confirmed (actions.start.start_action); changing the circle likewise (preview, then the
change with the number of added contact points confirmed, actions.change).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from actions.change import change_area, checked_area, preview_area, send_update
from actions.drafts import save_draft
from actions.end import checked_outcome, end_action
from actions.errors import (
    ActionError,
    ActionNotFound,
    InvalidActionRequest,
    NormsNotMet,
    SupervisorRequired,
)
from actions.figures import figures_for
from actions.location import locate_address
from actions.lookup import action_in_room
from actions.norms import NORMS
from actions.preview import preview_action
from actions.progress import action_progress
from actions.request import OUTCOME_LABELS, validate_request
from actions.start import start_action
from callback_line.inbox import list_sightings
from config.logging import mask_phone
from db.audit import record_audit
from db.models import Action, ActionRevision, ActionStatus, Operator
from web.auth import operator_for_api_token
from web.common import client_ip, current_clock
from web.csrf import exempt_blueprint
from web.runtime import current_db, current_settings
from web.validation import HOUSE_NUMBER_MESSAGE, MAX_HOUSE_NUMBER, InvalidInput, load_json, parse_int

bp = exempt_blueprint(Blueprint("api", __name__, url_prefix="/api/v1"))


class ApiError(HTTPException):
    def __init__(self, code: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or {}


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    body = {"error": error.message, "status": error.code}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.code
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="burgernet"'
    return response


def token_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "API-token ontbreekt (Authorization: Bearer ...).")
        with current_db().session() as s:
            operator = operator_for_api_token(s, token.strip())
            if operator is not None:
                s.expunge(operator)
        if operator is None:
            with current_db().transaction() as s:
                record_audit(s, "api.auth_failed", actor="api", ip=client_ip())
            raise ApiError(401, "Ongeldig API-token.")
        g.api_operator = operator
        return view(*args, **kwargs)

    return wrapper


def _json_body() -> dict:
    """The request's JSON object, parsed within web.validation's size and depth limits."""
    if not request.is_json:
        raise ApiError(400, "Verwacht een JSON-object in de body (Content-Type: application/json).")
    try:
        body = load_json(request.get_data(cache=True))
    except InvalidInput as invalid:
        raise ApiError(invalid.status, invalid.message) from invalid
    if not isinstance(body, dict):
        raise ApiError(400, "Verwacht een JSON-object in de body (Content-Type: application/json).")
    return body


def values_from_json(body: dict) -> tuple[dict, dict]:
    """Map the API's JSON onto the flattened values the shared validation takes."""
    settings = current_settings()
    incident_type = body.get("incident_type")
    location = body.get("location") or {}
    if not isinstance(location, dict):
        raise ApiError(422, "location moet een object zijn.", {"location": "Ongeldige locatie."})
    description = body.get("description") or {}
    if not isinstance(description, dict):
        raise ApiError(422, "description moet een object zijn.", {"description": "Ongeldig signalement."})
    norms = body.get("norms") or {}
    if not isinstance(norms, dict):
        raise ApiError(422, "norms moet een object zijn.", {"norms": "Ongeldige normen."})
    channels = body.get("channels")
    # An explicit radius is validated as given (0 is refused); only a missing one is defaulted.
    radius = body.get("radius_m")
    if radius is None:
        radius = settings.radius_by_incident.get(str(incident_type), "")
    values = {
        "incident_type": incident_type if isinstance(incident_type, str) else "",
        "free_text": body.get("free_text", ""),
        "lat": location.get("lat"),
        "lon": location.get("lon"),
        "location_label": location.get("label", ""),
        "radius_m": radius,
        "channels": channels if isinstance(channels, list) else ["voice", "sms", "email"],
        "norms": {name: norms.get(name) is True for name in NORMS},
    }
    if (values["lat"] is None or values["lon"] is None) and location.get("postcode"):
        point = _geocoded(location)
        values["lat"], values["lon"] = point.lat, point.lon
        values["location_label"] = values["location_label"] or point.label
    return values, description_values(description)


def description_values(description: dict) -> dict:
    """The API's description object as the form's values: flags `true` -> "on", empty left out."""
    return {str(k): ("on" if v is True else v) for k, v in description.items() if v not in (None, "", False)}


def _geocoded(location: dict):
    """The point of `location`'s postcode + house_number (+ addition), looked up like the
    console's address search; InvalidActionRequest (field `location`) when it cannot be."""
    if parse_int(location.get("house_number"), minimum=1, maximum=MAX_HOUSE_NUMBER) is None:
        raise InvalidActionRequest({"location": HOUSE_NUMBER_MESSAGE})
    with current_db().session() as s:
        return locate_address(
            s,
            current_settings(),
            str(location.get("postcode", "")),
            str(location.get("house_number", "")),
            str(location.get("addition", "")),
        )


def _confirmed_count(body: dict, key: str, what: str) -> int:
    """The number of recipients the caller confirms (`expected_total`, `expected_added`)."""
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(422, f"{key} ({what}) ontbreekt.", {key: "Geef het aantal uit het voorbeeld mee."})
    return value


def _validated(body: dict, *, require_norms: bool = True):
    settings = current_settings()
    try:
        values, description = values_from_json(body)
        return validate_request(values, description, settings, require_norms=require_norms)
    except InvalidActionRequest as invalid:
        raise ApiError(422, "De actie is niet geldig.", invalid.errors) from invalid


def action_json(s, action: Action, *, detail: bool = False, figures=None) -> dict:
    figures = figures or figures_for(s, [action])[action.id]
    data = {
        "id": action.id,
        "status": action.status.value,
        "incident_type": action.incident_type.value,
        "description": action.description,
        "free_text": action.free_text,
        "location": {"lat": action.lat, "lon": action.lon, "label": action.location_label},
        "radius_m": action.radius_m,
        "channels": action.channels,
        "training": action.training,
        "created_at": action.created_at.isoformat() if action.created_at else None,
        "started_at": action.started_at.isoformat() if action.started_at else None,
        "ended_at": action.ended_at.isoformat() if action.ended_at else None,
        "outcome": action.outcome.value if action.outcome else None,
        "outcome_note": action.outcome_note,
        "figures": {
            "recipients": figures.recipients,
            "reached": figures.reached,
            "answered": figures.answered,
            "acknowledged": figures.acknowledged,
            "sightings": figures.sightings,
            "first_sighting_s": figures.first_sighting_s,
        },
    }
    if detail and action.status != ActionStatus.DRAFT:
        progress = action_progress(s, action.id, current_clock(), current_settings())
        data["progress"] = {
            "by_state": progress.by_state,
            "by_channel": progress.by_channel,
            "reached": progress.reached,
            "acknowledged": progress.acknowledged,
            "calls_per_minute": progress.calls_per_minute,
            "estimated_seconds_left": progress.estimated_seconds_left,
        }
        data["voice_text"] = action.voice_text
        data["sms_text"] = action.sms_text
        data["revisions"] = [revision_json(r) for r in action.revisions]
        data["sightings"] = [
            {
                "id": item.id,
                "received_at": item.received_at.isoformat(),
                "caller": mask_phone(item.caller_number) or "anoniem",
                "participant": item.participant_id is not None,
                "distance_m": item.distance_m,
                "duration_s": item.duration_s,
                "handled": item.handled,
                "note": item.note,
            }
            for item in list_sightings(s, action.id)
        ]
    return data


def revision_json(revision: ActionRevision) -> dict:
    """One change of a running action: what changed, when, and whom it reached."""
    return {
        "number": revision.number,
        "kind": revision.kind.value,
        "at": revision.at.isoformat(),
        "after": {k: v for k, v in (revision.after or {}).items() if k not in ("voice_text", "sms_text")},
        "updates_queued": revision.updates_queued,
        "pending_with_new_text": revision.pending_with_new_text,
        "recipients_added": revision.recipients_added,
        "recipients_total": revision.recipients_total,
        "supervisor_confirmed": revision.supervisor_confirmed_by_id is not None,
    }


def _own_action(s, action_id: int) -> Action:
    try:
        return action_in_room(s, action_id, g.api_operator.control_room_id)
    except ActionNotFound as error:
        raise ApiError(404, error.user_message) from error


@bp.post("/preview")
@token_required
def api_preview():
    validated = _validated(_json_body(), require_norms=False)
    with current_db().session() as s:
        result = preview_action(
            s, validated, g.api_operator.control_room_id, current_clock().now(), current_settings()
        )
    return jsonify(result.as_json())


@bp.post("/actions")
@token_required
def api_create():
    validated = _validated(_json_body())
    settings = current_settings()
    with current_db().transaction() as s:
        action = save_draft(
            s, validated, g.api_operator, g.api_operator.control_room_id, settings, ip=client_ip()
        )
        result = preview_action(s, validated, action.control_room_id, current_clock().now(), settings)
        body = {"action": action_json(s, action), "preview": result.as_json()}
    return jsonify(body), 201


@bp.post("/actions/<int:action_id>/start")
@token_required
def api_start(action_id: int):
    expected = _confirmed_count(_json_body(), "expected_total", "het bevestigde aantal ontvangers")
    with current_db().session() as s:
        action = _own_action(s, action_id)
        try:
            start_action(
                s,
                action,
                g.api_operator,
                current_clock(),
                current_settings(),
                expected_total=expected,
                ip=client_ip(),
            )
        except SupervisorRequired as error:
            s.rollback()
            raise ApiError(
                403,
                error.user_message + " Laat een supervisor de actie in de console "
                "bevestigen, of gebruik het token van een supervisor.",
            ) from error
        except NormsNotMet as error:
            s.rollback()
            raise ApiError(422, error.user_message, {"norms": error.user_message}) from error
        except ActionError as error:
            s.rollback()
            raise ApiError(409, error.user_message) from error
        except InvalidActionRequest as invalid:
            s.rollback()
            raise ApiError(422, "De actie is niet geldig.", invalid.errors) from invalid
        return jsonify({"action": action_json(s, s.get(Action, action_id), detail=True)})


@bp.get("/actions")
@token_required
def api_list():
    status = request.args.get("status")
    with current_db().session() as s:
        query = select(Action).where(Action.control_room_id == g.api_operator.control_room_id)
        if status:
            if status not in {st.value for st in ActionStatus}:
                raise ApiError(400, "Onbekende status; kies draft, running of ended.")
            query = query.where(Action.status == ActionStatus(status))
        rows = s.scalars(query.order_by(Action.id.desc()).limit(200)).all()
        by_action = figures_for(s, list(rows))
        return jsonify({"actions": [action_json(s, a, figures=by_action[a.id]) for a in rows]})


@bp.get("/actions/<int:action_id>")
@token_required
def api_read(action_id: int):
    with current_db().session() as s:
        return jsonify({"action": action_json(s, _own_action(s, action_id), detail=True)})


@bp.post("/actions/<int:action_id>/end")
@token_required
def api_end(action_id: int):
    body = _json_body()
    try:
        outcome, note = checked_outcome(body.get("outcome"), body.get("note", ""))
    except InvalidActionRequest as invalid:
        errors = dict(invalid.errors)
        if "outcome" in errors:
            errors["outcome"] = "Kies de afloop: " + ", ".join(OUTCOME_LABELS) + "."
        raise ApiError(422, "Het beëindigen is niet geldig.", errors) from invalid
    with current_db().session() as s:
        action = _own_action(s, action_id)
        try:
            end_action(
                s,
                action,
                s.get(Operator, g.api_operator.id),
                outcome,
                note,
                current_clock(),
                current_settings(),
            )
        except ActionError as error:
            s.rollback()
            raise ApiError(409, error.user_message) from error
        return jsonify({"action": action_json(s, s.get(Action, action_id), detail=True)})


def _change_refused(error: Exception) -> ApiError:
    """The change's refusal as the API answers it (the session was rolled back)."""
    if isinstance(error, SupervisorRequired):
        return ApiError(
            403,
            error.user_message + " Laat een supervisor de wijziging in de console bevestigen, "
            "of gebruik het token van een supervisor.",
        )
    if isinstance(error, InvalidActionRequest):
        return ApiError(422, "De wijziging is niet geldig.", error.errors)
    assert isinstance(error, ActionError)
    return ApiError(409, error.user_message)


def _changed(s, action: Action, change: Callable[[], ActionRevision]):
    """Run one change of a running action (actions.change): the new revision and the action,
    or the refusal as the API answers it, with nothing changed."""
    try:
        revision = change()
    except (ActionError, InvalidActionRequest) as error:
        s.rollback()
        raise _change_refused(error) from error
    return jsonify({"revision": revision_json(revision), "action": action_json(s, action, detail=True)})


@bp.post("/actions/<int:action_id>/update")
@token_required
def api_update(action_id: int):
    """An update (vervolgbericht): a new description and/or free text; what is not given stays."""
    body = _json_body()
    description = body.get("description")
    free_text = body.get("free_text")
    if description is not None and not isinstance(description, dict):
        raise ApiError(422, "description moet een object zijn.", {"description": "Ongeldig signalement."})
    if free_text is not None and not isinstance(free_text, str):
        raise ApiError(422, "free_text moet tekst zijn.", {"free_text": "Ongeldige tekst."})
    with current_db().session() as s:
        action = _own_action(s, action_id)
        structured = (
            dict(action.description or {}) if description is None else description_values(description)
        )
        return _changed(
            s,
            action,
            lambda: send_update(
                s,
                action,
                g.api_operator,
                structured,
                action.free_text or "" if free_text is None else free_text,
                current_clock(),
                current_settings(),
                ip=client_ip(),
            ),
        )


def _area_from_json(action: Action, body: dict) -> tuple[float, float, int, str]:
    """The changed circle: `location` (lat/lon or postcode + house_number, as when creating) and
    `radius_m`; what is not given stays as it is."""
    location = body.get("location") or {}
    if not isinstance(location, dict):
        raise ApiError(422, "location moet een object zijn.", {"location": "Ongeldige locatie."})
    lat, lon = location.get("lat", action.lat), location.get("lon", action.lon)
    label = location.get("label", action.location_label or "")
    try:
        if "lat" not in location and location.get("postcode"):
            point = _geocoded(location)
            lat, lon, label = point.lat, point.lon, location.get("label") or point.label
        return checked_area(lat, lon, body.get("radius_m", action.radius_m), label)
    except InvalidActionRequest as invalid:
        raise ApiError(422, "De wijziging is niet geldig.", invalid.errors) from invalid


@bp.post("/actions/<int:action_id>/area/preview")
@token_required
def api_area_preview(action_id: int):
    """How many contact points a wider or moved circle adds (nothing is saved)."""
    body = _json_body()
    with current_db().session() as s:
        action = _own_action(s, action_id)
        lat, lon, radius, label = _area_from_json(action, body)
        try:
            result = preview_area(
                s, action, lat, lon, radius, label, current_clock().now(), current_settings()
            )
        except ActionError as error:
            raise _change_refused(error) from error
        finally:
            s.rollback()
        return jsonify(
            {
                "added": result.added,
                "total": result.total,
                "needs_supervisor": result.needs_supervisor,
                "location": {"lat": result.lat, "lon": result.lon, "label": result.location_label},
                "radius_m": result.radius_m,
            }
        )


@bp.post("/actions/<int:action_id>/area")
@token_required
def api_area(action_id: int):
    """Widen the circle or move its point, with `expected_added` (the preview's `added`)
    confirmed; only contact points not asked before are added."""
    body = _json_body()
    expected = _confirmed_count(body, "expected_added", "het bevestigde aantal nieuwe ontvangers")
    with current_db().session() as s:
        action = _own_action(s, action_id)
        lat, lon, radius, label = _area_from_json(action, body)
        return _changed(
            s,
            action,
            lambda: change_area(
                s,
                action,
                g.api_operator,
                lat,
                lon,
                radius,
                label,
                current_clock(),
                current_settings(),
                expected_added=expected,
                ip=client_ip(),
            ),
        )
