"""`burgernet action start|update|area|end|progress`: actions for scripted use.

The same use cases as the console and the JSON API: `start` validates like the form, saves a
draft with the norms given and starts it through actions.start.start_action, so the Burgernet
norms and the supervisor rule hold here too; `update` and `area` change a running action
through actions.change, as the console does. `--override` (scripted drills only) skips those
two rules and is written to the audit trail as such.

Errors end with a line on stderr and a non-zero exit status (click.ClickException).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.change import change_area, checked_area, send_update
from actions.drafts import save_draft
from actions.end import checked_outcome, end_action
from actions.errors import ActionError, InvalidActionRequest
from actions.norms import NORMS
from actions.progress import action_progress
from actions.request import validate_request
from actions.start import start_action
from config.clock import SystemClock
from db.models import Action, ControlRoom, IncidentType, Operator, Outcome
from db.runtime import current_db, current_settings

action_group = click.Group("action", help="Actions, for scripted use.")
ALL_CHANNELS = ("voice", "sms", "email")


def _refused(error: ActionError | InvalidActionRequest) -> click.ClickException:
    return click.ClickException(f"{error.user_message} ({error})")


def _control_room(session: Session, room: str | None) -> ControlRoom:
    query = select(ControlRoom).order_by(ControlRoom.id)
    if room:
        query = query.where(
            (ControlRoom.name == room) | (ControlRoom.id == (int(room) if room.isdigit() else -1))
        )
    found = session.scalars(query).first()
    if found is None:
        raise click.ClickException(
            f"no control room {room!r}" if room else "no control room configured (seed one first)"
        )
    return found


def _operator(session: Session, username: str | None, option: str) -> Operator | None:
    if not username:
        return None
    found = session.scalars(select(Operator).where(Operator.username == username)).first()
    if found is None:
        raise click.ClickException(f"no operator {username!r} ({option})")
    return found


def parse_description(text: str) -> tuple[dict[str, str], str]:
    """A JSON object is the structured description; any other text is free text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"description is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise click.BadParameter("description JSON must be an object")
        return {str(k): str(v) for k, v in value.items() if v not in (None, "")}, ""
    return {}, stripped


@action_group.command("start")
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--radius", type=int, default=None, help="Metres; default by incident type.")
@click.option("--type", "incident_type", required=True, type=click.Choice([t.value for t in IncidentType]))
@click.option("--description", required=True, help="Structured description as a JSON object, or free text.")
@click.option(
    "--room", default=None, help="Control room name or id (default: the operator's, else the first)."
)
@click.option("--operator", "username", default=None, help="Username of the centralist.")
@click.option("--channels", default="", help="Comma-separated: voice,sms,email (default all).")
@click.option("--urgent-recent", is_flag=True, help=f"Norm confirmed: {NORMS['urgent_recent']}")
@click.option("--clear-description", is_flag=True, help=f"Norm confirmed: {NORMS['clear_description']}")
@click.option(
    "--family-consent", is_flag=True, help=f"Norm confirmed (missing persons): {NORMS['family_consent']}"
)
@click.option(
    "--supervisor",
    "supervisor_name",
    default=None,
    help="Username of the supervisor of the control room who confirms an action above "
    "the size or radius limit.",
)
@click.option(
    "--override",
    is_flag=True,
    help="Scripted drills only: skip the norms and the supervisor rule; written to the "
    "audit trail as action.rules_overridden.",
)
def start_action_command(
    lat,
    lon,
    radius,
    incident_type,
    description,
    room,
    username,
    channels,
    urgent_recent,
    clear_description,
    family_consent,
    supervisor_name,
    override,
) -> None:
    """Start an action and plan its wave; prints the action as one JSON line."""
    settings = current_settings()
    structured, free_text = parse_description(description)
    chosen = [c.strip() for c in channels.split(",") if c.strip()] or list(ALL_CHANNELS)
    values = {
        "incident_type": incident_type,
        "free_text": free_text,
        "lat": lat,
        "lon": lon,
        "location_label": "",
        "radius_m": radius or settings.radius_by_incident.get(incident_type, 1000),
        "channels": chosen,
        "norms": {
            "urgent_recent": urgent_recent,
            "clear_description": clear_description,
            "family_consent": family_consent,
        },
    }
    try:
        # The norms are checked by start_action, as for every door.
        request = validate_request(values, structured, settings, require_norms=False)
    except InvalidActionRequest as invalid:
        raise _refused(invalid) from invalid
    clock = SystemClock()
    with current_db().session() as session:
        operator = _operator(session, username, "--operator")
        supervisor = _operator(session, supervisor_name, "--supervisor")
        control_room = operator.control_room if operator else _control_room(session, room)
        try:
            action = save_draft(session, request, operator, control_room.id, settings)
            start_action(session, action, operator, clock, settings, supervisor=supervisor, override=override)
        except (ActionError, InvalidActionRequest) as error:
            session.rollback()
            raise _refused(error) from error
        progress = action_progress(session, action.id, clock, settings)
    click.echo(
        json.dumps(
            {
                "action_id": action.id,
                "deliveries": progress.total,
                "held": progress.held,
                "by_channel": progress.by_channel,
                "override": override,
            }
        )
    )


@action_group.command("update")
@click.option("--id", "action_id", type=int, required=True)
@click.option(
    "--description",
    default=None,
    help="The whole new description as a JSON object (default: unchanged).",
)
@click.option("--free-text", default=None, help="The new free text (default: unchanged).")
@click.option("--operator", "username", default=None)
@click.option("--supervisor", "supervisor_name", default=None, help="Supervisor who confirms, when needed.")
def update_action_command(action_id, description, free_text, username, supervisor_name) -> None:
    """Send an update (vervolgbericht): the reached get a short update, the rest the new text."""
    settings = current_settings()
    with current_db().session() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id}")
        structured = dict(action.description or {})
        if description is not None:
            structured, typed_free = parse_description(description)
            if typed_free:
                raise click.BadParameter("--description must be a JSON object; use --free-text for text")
        try:
            revision = send_update(
                session,
                action,
                _operator(session, username, "--operator"),
                structured,
                action.free_text or "" if free_text is None else free_text,
                SystemClock(),
                settings,
                supervisor=_operator(session, supervisor_name, "--supervisor"),
            )
        except (ActionError, InvalidActionRequest) as error:
            session.rollback()
            raise _refused(error) from error
        result = {
            "action_id": action_id,
            "revision": revision.number,
            "updates_queued": revision.updates_queued,
            "pending_with_new_text": revision.pending_with_new_text,
        }
    click.echo(json.dumps(result))


@action_group.command("area")
@click.option("--id", "action_id", type=int, required=True)
@click.option("--radius", type=int, default=None, help="Metres (default: unchanged).")
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@click.option("--label", default=None, help="The location's description, e.g. 'Markt 1, Delft'.")
@click.option("--operator", "username", default=None)
@click.option("--supervisor", "supervisor_name", default=None, help="Supervisor who confirms, when needed.")
def area_action_command(action_id, radius, lat, lon, label, username, supervisor_name) -> None:
    """Widen the circle or move its point: only participants not asked before are added."""
    settings = current_settings()
    with current_db().session() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id}")
        try:
            new_lat, new_lon, new_radius, new_label = checked_area(
                action.lat if lat is None else lat,
                action.lon if lon is None else lon,
                action.radius_m if radius is None else radius,
                action.location_label if label is None else label,
            )
            revision = change_area(
                session,
                action,
                _operator(session, username, "--operator"),
                new_lat,
                new_lon,
                new_radius,
                new_label,
                SystemClock(),
                settings,
                supervisor=_operator(session, supervisor_name, "--supervisor"),
            )
        except (ActionError, InvalidActionRequest) as error:
            session.rollback()
            raise _refused(error) from error
        result = {
            "action_id": action_id,
            "revision": revision.number,
            "added": revision.recipients_added,
            "total": revision.recipients_total,
        }
    click.echo(json.dumps(result))


@action_group.command("end")
@click.option("--id", "action_id", type=int, required=True)
@click.option("--outcome", required=True, type=click.Choice([o.value for o in Outcome]))
@click.option("--note", default="")
@click.option("--operator", "username", default=None)
def end_action_command(action_id, outcome, note, username) -> None:
    """End a running action: queued calls are cancelled, the outcome message follows."""
    settings = current_settings()
    try:
        outcome, note = checked_outcome(outcome, note)
    except InvalidActionRequest as invalid:
        raise _refused(invalid) from invalid
    with current_db().session() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id}")
        operator = _operator(session, username, "--operator")
        try:
            end_action(session, action, operator, outcome, note, SystemClock(), settings)
        except ActionError as error:
            session.rollback()
            raise _refused(error) from error
    click.echo(json.dumps({"action_id": action_id, "status": "ended", "outcome": outcome}))


@action_group.command("progress")
@click.option("--id", "action_id", type=int, required=True)
def progress_command(action_id) -> None:
    """Counts by state and channel, as one JSON line."""
    with current_db().session() as session:
        try:
            progress = action_progress(session, action_id, SystemClock(), current_settings())
        except ActionError as error:
            raise _refused(error) from error
    click.echo(json.dumps(asdict(progress)))
