"""`burgernet action start|end|progress`: actions for scripted use.

Errors end with a line on stderr and a non-zero exit status (click.ClickException).
"""
from __future__ import annotations

import json
from dataclasses import asdict

import click
from sqlalchemy import select

from actions.service import ActionError, action_progress, end_action, start_action
from config.clock import SystemClock
from db.models import Action, ActionStatus, ControlRoom, IncidentType, Operator, Outcome
from db.runtime import current_db, current_settings

action_group = click.Group("action", help="Actions, for scripted use.")


def _control_room(session, room: str | None) -> ControlRoom:
    query = select(ControlRoom).order_by(ControlRoom.id)
    if room:
        query = query.where((ControlRoom.name == room) | (ControlRoom.id == (
            int(room) if room.isdigit() else -1)))
    found = session.scalars(query).first()
    if found is None:
        raise click.ClickException(f"no control room {room!r}" if room else
                                   "no control room configured (seed one first)")
    return found


def parse_description(text: str) -> tuple[dict, str]:
    """A JSON object is the structured description; any other text is free text."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"description is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise click.BadParameter("description JSON must be an object")
        return value, ""
    return {}, stripped


@action_group.command("start")
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--radius", type=int, default=None, help="Metres; default by incident type.")
@click.option("--type", "incident_type", required=True,
              type=click.Choice([t.value for t in IncidentType]))
@click.option("--description", required=True,
              help="Structured description as a JSON object, or free text.")
@click.option("--room", default=None, help="Control room name or id (default: the first).")
@click.option("--operator", "username", default=None, help="Username of the centralist.")
@click.option("--channels", default="", help="Comma-separated: voice,sms,email (default all).")
def start_action_command(lat, lon, radius, incident_type, description, room, username,
                         channels) -> None:
    """Start an action and plan its wave; prints the action as one JSON line."""
    settings = current_settings()
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.BadParameter("latitude/longitude out of range")
    radius = radius or settings.radius_by_incident.get(incident_type, 1000)
    if radius <= 0:
        raise click.BadParameter("radius must be positive")
    chosen = [c.strip() for c in channels.split(",") if c.strip()]
    if any(c not in ("voice", "sms", "email") for c in chosen):
        raise click.BadParameter("channels are voice, sms and email")
    structured, free_text = parse_description(description)
    clock = SystemClock()
    with current_db().session() as session:
        operator = None
        if username:
            operator = session.scalars(select(Operator).where(Operator.username == username)).first()
            if operator is None:
                raise click.ClickException(f"no operator {username!r}")
        control_room = operator.control_room if operator else _control_room(session, room)
        action = Action(control_room_id=control_room.id, incident_type=IncidentType(incident_type),
                        description=structured, free_text=free_text, lat=lat, lon=lon,
                        radius_m=radius, channels=chosen, status=ActionStatus.DRAFT,
                        created_by_id=operator.id if operator else None)
        session.add(action)
        session.flush()
        try:
            start_action(session, action, operator, clock, settings)
        except ActionError as exc:
            raise click.ClickException(f"{exc} ({exc.user_message})") from exc
        except ValueError as exc:  # prompts' domain errors (a description too thin, ...)
            raise click.ClickException(str(exc)) from exc
        progress = action_progress(session, action.id, clock, settings)
    click.echo(json.dumps({"action_id": action.id, "deliveries": progress.total,
                           "held": progress.held, "by_channel": progress.by_channel}))


@action_group.command("end")
@click.option("--id", "action_id", type=int, required=True)
@click.option("--outcome", required=True, type=click.Choice([o.value for o in Outcome]))
@click.option("--note", default="")
@click.option("--operator", "username", default=None)
def end_action_command(action_id, outcome, note, username) -> None:
    """End a running action: queued calls are cancelled, the outcome message follows."""
    settings = current_settings()
    with current_db().session() as session:
        action = session.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id}")
        operator = (session.scalars(select(Operator).where(Operator.username == username)).first()
                    if username else None)
        try:
            end_action(session, action, operator, outcome, note, SystemClock(), settings)
        except ActionError as exc:
            raise click.ClickException(f"{exc} ({exc.user_message})") from exc
    click.echo(json.dumps({"action_id": action_id, "status": "ended", "outcome": outcome}))


@action_group.command("progress")
@click.option("--id", "action_id", type=int, required=True)
def progress_command(action_id) -> None:
    """Counts by state and channel, as one JSON line."""
    with current_db().session() as session:
        try:
            progress = action_progress(session, action_id, SystemClock(), current_settings())
        except ActionError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(asdict(progress)))
