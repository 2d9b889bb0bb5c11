"""Administration (admin role): operators and roles, control rooms and their transfer targets,
trunks with their limits, platform settings (quiet hours, radius per incident type, retention),
and a participant search with phone numbers masked by default. Every change is audited.

Platform settings edited here are kept in `<instance>/admin_settings.json` and laid over the
environment's settings whenever an app starts (web server and dialer worker alike).
"""

from __future__ import annotations

import json
import re
from datetime import time, timedelta
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from werkzeug.security import generate_password_hash

from callback_line.transfer_targets import InvalidTransferTarget, check_usable, parse_transfer_target
from config.clock import utcnow
from config.logging import mask_phone
from config.settings import Settings
from db.audit import record_audit
from db.heartbeats import recent
from db.models import (
    Address,
    ControlRoom,
    IncidentType,
    Operator,
    Participant,
    ParticipantStatus,
    PhoneNumber,
    Role,
    Sighting,
    Trunk,
)
from ivr.callback_flow import OWN_CENTRALIST_RING_S
from web.auth import ROLE_LABELS, current_operator, end_sessions, login_required
from web.common import client_ip
from web.ops import backend_reason, backend_unreachable, degraded_reason, readiness
from web.runtime import current_db, current_settings
from web.validation import DB_INT_MAX, parse_decimal, parse_id, parse_int

bp = Blueprint("admin", __name__, url_prefix="/beheer")

OVERRIDES_FILE = "admin_settings.json"
BACKENDS = ("simulator", "asterisk", "twilio")
HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
USERNAME = re.compile(r"^[a-z0-9._-]{3,80}$")
INCIDENT_LABELS = {
    "suspect": "verdachte",
    "missing_person": "vermiste persoon",
    "missing_child": "vermist kind",
    "vehicle": "voertuig",
    "other": "overig",
}
MIN_PASSWORD = 10
SEARCH_LIMIT = 50


class AdminError(ValueError):
    """Invalid administration input; the message is Dutch and shown to the admin."""


# --- platform settings kept in the instance folder ----------------------------------------


def overrides_path(settings: Settings) -> Path:
    return settings.instance_path / OVERRIDES_FILE


def validate_platform_settings(form) -> dict:
    """Pure: the overrides from a form, checked. Raises AdminError."""
    radius = {}
    for incident in IncidentType:
        meters = parse_int(form.get(f"radius_{incident.value}"), minimum=100, maximum=20000)
        if meters is None:
            raise AdminError(f"Straal voor {INCIDENT_LABELS[incident.value]}: kies 100 tot 20.000 meter.")
        radius[incident.value] = meters
    retention = parse_int(form.get("retention_days"), minimum=7, maximum=3650)
    if retention is None:
        raise AdminError("Bewaartermijn: kies 7 tot 3650 dagen.")
    start, end = (form.get("quiet_start") or "").strip(), (form.get("quiet_end") or "").strip()
    if bool(start) != bool(end):
        raise AdminError("Nachtrust: vul begin en einde allebei in, of allebei leeg.")
    for value in (start, end):
        if value and not HHMM.fullmatch(value):
            raise AdminError("Nachtrust: vul tijden in als uu:mm.")
    return {
        "radius_by_incident": radius,
        "retention_days": retention,
        "quiet_hours_start": start or None,
        "quiet_hours_end": end or None,
    }


def apply_overrides(settings: Settings, overrides: dict) -> None:
    if "radius_by_incident" in overrides:
        settings.radius_by_incident = {**settings.radius_by_incident, **overrides["radius_by_incident"]}
    if "retention_days" in overrides:
        settings.retention_days = int(overrides["retention_days"])
    if "quiet_hours_start" in overrides:
        start, end = overrides["quiet_hours_start"], overrides.get("quiet_hours_end")
        settings.quiet_hours_start = time.fromisoformat(start) if start else None
        settings.quiet_hours_end = time.fromisoformat(end) if end else None


def load_overrides(settings: Settings) -> dict:
    path = overrides_path(settings)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


@bp.record_once
def _apply_saved_settings(state) -> None:
    settings = state.app.extensions["burgernet.settings"]
    apply_overrides(settings, load_overrides(settings))


# --- views ----------------------------------------------------------------------------------


def _audit(s, event: str, **detail) -> None:
    record_audit(s, event, operator=current_operator(), ip=client_ip(), **detail)


def _done(message: str, endpoint: str):
    flash(message, "success")
    return redirect(url_for(endpoint))


@bp.get("/")
@login_required(role=Role.ADMIN)
def index():
    with current_db().session() as s:
        counts = {
            "operators": s.scalar(select(func.count()).select_from(Operator)),
            "rooms": s.scalar(select(func.count()).select_from(ControlRoom)),
            "trunks": s.scalar(select(func.count()).select_from(Trunk)),
            "participants": s.scalar(select(func.count()).select_from(Participant)),
        }
    return render_template("admin/index.html", counts=counts)


# status: processes, faults, recordings that went wrong

ROLE_NAMES = {"web": "webserver", "dialer": "kiezer", "ivr": "FastAGI-server (IVR)", "scheduler": "planner"}
STATUS_NAMES = {
    "ok": "in orde",
    "degraded": "verstoord",
    "stopped": "gestopt",
    "gone": "geen teken van leven",
}
RECORDING_STATUS_NAMES = {"failed": "mislukt", "truncated": "afgebroken"}
RECORDING_PROBLEM_DAYS = 7


@bp.get("/status")
@login_required(role=Role.ADMIN)
def status():
    """Every process seen in the last hour, why one is degraded, and sightings whose recording
    failed or was cut short in the last week."""
    settings = current_settings()
    now = utcnow()
    processes = recent(current_db(), now=now)
    rows = []
    for p in processes:
        state = p.status if p.alive or p.status == "stopped" else "gone"
        reason = degraded_reason(p)
        unreachable = backend_reason(p)
        rows.append(
            {
                "role": ROLE_NAMES.get(p.role, p.role),
                "name": p.name,
                "state": state,
                "state_label": STATUS_NAMES.get(state, state),
                "reason": f"centrale niet bereikbaar: {unreachable}" if unreachable else (reason or ""),
                "age_s": max(0, round((now - p.beat_at).total_seconds())),
                "detail": ", ".join(f"{k}: {v}" for k, v in sorted(p.detail.items()) if k != "reason"),
            }
        )
    since = now - timedelta(days=RECORDING_PROBLEM_DAYS)
    with current_db().session() as s:
        sightings = [
            {
                "id": x.id,
                "action_id": x.action_id,
                "received_at": x.received_at,
                "caller": mask_phone(x.caller_number) or "anoniem",
                "status": RECORDING_STATUS_NAMES.get(x.recording_status or "", x.recording_status),
                "error": x.recording_error or "",
            }
            for x in s.scalars(
                select(Sighting)
                .where(Sighting.recording_status.in_(RECORDING_STATUS_NAMES), Sighting.received_at >= since)
                .order_by(Sighting.received_at.desc())
                .limit(100)
            )
        ]
    return render_template(
        "admin/status.html",
        processes=rows,
        problems=readiness(processes),
        backend=settings.phone_backend,
        backend_unreachable=backend_unreachable(processes, settings.phone_backend),
        sightings=sightings,
        days=RECORDING_PROBLEM_DAYS,
    )


# operators


@bp.get("/gebruikers")
@login_required(role=Role.ADMIN)
def operators():
    with current_db().session() as s:
        rows = s.scalars(select(Operator).order_by(Operator.username)).all()
        for row in rows:
            _ = row.control_room
        rooms = s.scalars(select(ControlRoom).order_by(ControlRoom.name)).all()
    return render_template(
        "admin/operators.html", operators=rows, rooms=rooms, roles=list(Role), role_labels=ROLE_LABELS
    )


def _room_id(s, raw) -> int:
    room_id = parse_id(raw)
    room = s.get(ControlRoom, room_id) if room_id is not None else None
    if room is None:
        raise AdminError("Kies een meldkamer.")
    return room.id


def _role(raw) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise AdminError("Kies een rol: centralist, supervisor of beheerder.") from None


@bp.post("/gebruikers")
@login_required(role=Role.ADMIN)
def create_operator():
    form = request.form
    try:
        username = (form.get("username") or "").strip().lower()
        if not USERNAME.match(username):
            raise AdminError("Gebruikersnaam: 3 tot 80 tekens, alleen letters, cijfers, punt, streep.")
        password = form.get("password") or ""
        if len(password) < MIN_PASSWORD:
            raise AdminError(f"Het wachtwoord moet minstens {MIN_PASSWORD} tekens hebben.")
        display = " ".join((form.get("display_name") or "").split())[:120]
        if not display:
            raise AdminError("Vul de naam van de gebruiker in.")
        with current_db().transaction() as s:
            if s.scalar(select(Operator.id).where(Operator.username == username)):
                raise AdminError("Deze gebruikersnaam bestaat al.")
            operator = Operator(
                username=username,
                display_name=display,
                password_hash=generate_password_hash(password),
                role=_role(form.get("role")),
                control_room_id=_room_id(s, form.get("control_room_id")),
                transfer_target=_transfer_target(form.get("transfer_target"), required=False),
                active=True,
            )
            s.add(operator)
            s.flush()
            _audit(
                s,
                "admin.operator_created",
                target_type="operator",
                target_id=operator.id,
                role=operator.role.value,
            )
    except AdminError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.operators"))
    return _done(f"Gebruiker {username} is aangemaakt.", "admin.operators")


@bp.post("/gebruikers/<int:operator_id>")
@login_required(role=Role.ADMIN)
def update_operator(operator_id: int):
    form = request.form
    try:
        with current_db().transaction() as s:
            operator = s.get(Operator, operator_id)
            if operator is None:
                abort(404)
            me = current_operator()
            role = _role(form.get("role"))
            active = form.get("active") == "1"
            if operator.id == me.id and (role is not Role.ADMIN or not active):
                raise AdminError("U kunt uw eigen beheerrechten niet intrekken.")
            operator.role = role
            if operator.active and not active:
                end_sessions(operator)
            operator.active = active
            operator.control_room_id = _room_id(s, form.get("control_room_id"))
            target = _transfer_target(form.get("transfer_target"), required=False)
            target_changed = target != operator.transfer_target
            operator.transfer_target = target
            password = form.get("password") or ""
            if password:
                if len(password) < MIN_PASSWORD:
                    raise AdminError(f"Het wachtwoord moet minstens {MIN_PASSWORD} tekens hebben.")
                operator.password_hash = generate_password_hash(password)
                if operator.id != me.id:
                    end_sessions(operator)  # the old password's sessions end with it
                operator.failed_logins = 0
                operator.locked_until = None
            _audit(
                s,
                "admin.operator_changed",
                target_type="operator",
                target_id=operator.id,
                role=role.value,
                active=active,
                password_reset=bool(password),
                **({"transfer_target": target or ""} if target_changed else {}),
            )
            name = operator.username
    except AdminError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.operators"))
    return _done(f"Gebruiker {name} is bijgewerkt.", "admin.operators")


def _transfer_target(raw: str | None, *, required: bool) -> str | None:
    """A transfer target as typed, checked and in its canonical form (callback_line.
    transfer_targets): an allow-listed PBX endpoint, a SIP URI or a Dutch number, and one the
    configured phone backend can dial. Free text never reaches a dial string."""
    text = (raw or "").strip()[:200]
    if not text:
        if required:
            raise AdminError("Vul het doorverbindnummer, SIP-adres of toestel van de centralisten in.")
        return None
    settings = current_settings()
    try:
        target = parse_transfer_target(text, endpoints=settings.asterisk.transfer_endpoints)
        check_usable(target, settings.phone_backend)
    except InvalidTransferTarget as exc:
        raise AdminError(f"Doorverbinden: {exc.dutch}") from exc
    return target.value


# control rooms


# What a message speaks and prints as the call-back number (prompts.messages checks the same).
CALLBACK_NUMBER = re.compile(r"\+?\d[\d -]{2,18}\d")
# A queue name as app_queue and the dialplan's FILTER accept it.
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def _room_fields(form) -> dict:
    name = " ".join((form.get("name") or "").split())[:120]
    if not name:
        raise AdminError("Vul de naam van de meldkamer in.")
    target = _transfer_target(form.get("transfer_target"), required=True)
    start, end = (form.get("quiet_start") or "").strip(), (form.get("quiet_end") or "").strip()
    if bool(start) != bool(end) or any(v and not HHMM.fullmatch(v) for v in (start, end)):
        raise AdminError("Nachtrust: vul begin en einde als uu:mm in, of laat beide leeg.")
    callback_number = " ".join((form.get("callback_number") or "").split())
    if callback_number and not CALLBACK_NUMBER.fullmatch(callback_number):
        raise AdminError("Terugbelnummer: vul een telefoonnummer in, zoals 0800-0011 of +318000011.")
    queue = (form.get("callback_queue") or "").strip()
    if queue and not QUEUE_NAME.fullmatch(queue):
        raise AdminError(
            "Wachtrij terugbellijn: alleen letters, cijfers, '-' en '_' (de naam van de wachtrij in "
            "burgernet_queues.conf), of leeg voor direct doorverbinden."
        )
    return {
        "name": name,
        "region": " ".join((form.get("region") or "").split())[:120],
        "transfer_target": target,
        "callback_number": callback_number or None,
        "callback_queue": queue or None,
        "callback_own_centralist_first": bool(queue) and form.get("callback_own_centralist_first") == "on",
        "quiet_hours_start": start or None,
        "quiet_hours_end": end or None,
    }


@bp.get("/meldkamers")
@login_required(role=Role.ADMIN)
def rooms():
    with current_db().session() as s:
        rows = s.scalars(select(ControlRoom).order_by(ControlRoom.name)).all()
    return render_template("admin/rooms.html", rooms=rows, own_ring_s=OWN_CENTRALIST_RING_S)


def _save_named(s, model, row_id: int | None, fields: dict, clash_message: str):
    """Create (row_id None) or update a row whose name is unique; refuse a name in use."""
    clash = s.scalar(select(model.id).where(model.name == fields["name"]))
    if clash is not None and clash != row_id:
        raise AdminError(clash_message)
    row = model() if row_id is None else s.get(model, row_id)
    if row is None:
        abort(404)
    for key, value in fields.items():
        setattr(row, key, value)
    s.add(row)
    s.flush()
    return row


@bp.post("/meldkamers", defaults={"room_id": None})
@bp.post("/meldkamers/<int:room_id>")
@login_required(role=Role.ADMIN)
def save_room(room_id: int | None):
    try:
        fields = _room_fields(request.form)
        with current_db().transaction() as s:
            room = _save_named(s, ControlRoom, room_id, fields, "Er is al een meldkamer met deze naam.")
            _audit(
                s,
                "admin.control_room_saved",
                target_type="control_room",
                target_id=room.id,
                created=room_id is None,
                transfer_target=room.transfer_target,
            )
    except AdminError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.rooms"))
    return _done(f"Meldkamer {fields['name']} is opgeslagen.", "admin.rooms")


# trunks


def _trunk_fields(s, form) -> dict:
    name = (form.get("name") or "").strip()[:80]
    if not name:
        raise AdminError("Vul de naam van de trunk in.")
    backend = form.get("backend")
    if backend not in BACKENDS:
        raise AdminError("Kies een netwerk: simulator, asterisk of twilio.")
    channels = parse_int(form.get("max_channels"), maximum=DB_INT_MAX)
    cps = parse_decimal(form.get("cps"))
    if channels is None or cps is None:
        raise AdminError("Kanalen en oproepen per seconde moeten getallen zijn.")
    if not 1 <= channels <= 10000:
        raise AdminError("Kanalen: kies 1 tot 10.000.")
    if not 0.1 <= cps <= 1000:
        raise AdminError("Oproepen per seconde: kies 0,1 tot 1000.")
    caps_raw = (form.get("prefix_caps") or "").strip()
    caps = {}
    for part in filter(None, (p.strip() for p in caps_raw.replace("\n", ",").split(","))):
        prefix, _, limit = part.partition("=")
        prefix, limit = prefix.strip(), limit.strip()
        cap = parse_int(limit, minimum=1, maximum=10000)
        if not re.fullmatch(r"\+[0-9]{2,8}", prefix) or cap is None:
            raise AdminError("Limiet per netnummer: schrijf als +3115=40, gescheiden door komma's.")
        caps[prefix] = cap
    room_raw = form.get("control_room_id") or ""
    return {
        "name": name,
        "backend": backend,
        "max_channels": channels,
        "cps": cps,
        "prefix_caps": caps,
        "control_room_id": _room_id(s, room_raw) if room_raw else None,
        "active": form.get("active") == "1",
    }


@bp.get("/trunks")
@login_required(role=Role.ADMIN)
def trunks():
    with current_db().session() as s:
        rows = s.scalars(select(Trunk).order_by(Trunk.name)).all()
        rooms = s.scalars(select(ControlRoom).order_by(ControlRoom.name)).all()
    return render_template("admin/trunks.html", trunks=rows, rooms=rooms, backends=BACKENDS)


@bp.post("/trunks", defaults={"trunk_id": None})
@bp.post("/trunks/<int:trunk_id>")
@login_required(role=Role.ADMIN)
def save_trunk(trunk_id: int | None):
    try:
        with current_db().transaction() as s:
            fields = _trunk_fields(s, request.form)
            trunk = _save_named(s, Trunk, trunk_id, fields, "Er is al een trunk met deze naam.")
            _audit(
                s,
                "admin.trunk_saved",
                target_type="trunk",
                target_id=trunk.id,
                max_channels=trunk.max_channels,
                cps=trunk.cps,
            )
    except AdminError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.trunks"))
    return _done(f"Trunk {fields['name']} is opgeslagen.", "admin.trunks")


# platform settings


@bp.route("/instellingen", methods=["GET", "POST"])
@login_required(role=Role.ADMIN)
def platform_settings():
    settings = current_settings()
    if request.method == "POST":
        try:
            overrides = validate_platform_settings(request.form)
        except AdminError as exc:
            flash(str(exc), "error")
        else:
            path = overrides_path(settings)
            path.write_text(json.dumps(overrides, indent=2), encoding="utf-8")
            apply_overrides(settings, overrides)
            with current_db().transaction() as s:
                _audit(s, "admin.settings_changed", target_type="settings", **overrides)
            return _done("De instellingen zijn opgeslagen.", "admin.platform_settings")
    return render_template(
        "admin/settings.html", labels=INCIDENT_LABELS, incidents=[i.value for i in IncidentType]
    )


# participants


def participant_search(s, query: str) -> list[Participant]:
    """Participants by name, email, postcode or (part of a) phone number; at most 50."""
    q = query.strip()
    if len(q) < 2:
        return []
    like = f"%{q.lower()}%"
    digits = re.sub(r"\D", "", q)
    conditions = [func.lower(Participant.name).like(like), func.lower(Participant.email).like(like)]
    postcode = q.replace(" ", "").upper()
    conditions.append(
        Participant.id.in_(select(Address.participant_id).where(Address.postcode.like(f"{postcode}%")))
    )
    if len(digits) >= 4:
        tail = digits.lstrip("0")
        conditions.append(
            Participant.id.in_(select(PhoneNumber.participant_id).where(PhoneNumber.e164.like(f"%{tail}%")))
        )
    return list(
        s.scalars(select(Participant).where(or_(*conditions)).order_by(Participant.name).limit(SEARCH_LIMIT))
    )


@bp.get("/deelnemers")
@login_required(role=Role.ADMIN)
def participants():
    query = request.args.get("q", "")[:100]
    reveal = request.args.get("toon") == "nummers"
    with current_db().transaction() as s:
        found = participant_search(s, query)
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "status": ParticipantStatus(p.status).value,
                "email": p.email or "",
                "phones": [(x.e164 if reveal else mask_phone(x.e164), x.verified) for x in p.phones],
                "addresses": [
                    f"{a.postcode} {a.house_number}{a.house_number_addition} {a.municipality or ''}"
                    for a in p.addresses
                ],
                "channels": ", ".join(p.channels or []),
            }
            for p in found
        ]
        if reveal and found:
            _audit(s, "admin.phone_numbers_revealed", target_type="participant_search", shown=len(found))
    return render_template("admin/participants.html", rows=rows, query=query, reveal=reveal)
