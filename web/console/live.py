"""The live action page: progress (actions.progress), figures and the sightings inbox, as a
page, as JSON and as server-sent events."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from flask import Response, jsonify, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.figures import figures
from actions.progress import action_progress
from actions.request import outcome_labels_for
from callback_line.inbox import list_sightings
from config.logging import mask_phone
from config.settings import Settings
from db.heartbeats import recent
from db.models import Action, ActionStatus, Operator
from prompts.callback_number import callback_number_for
from prompts.errors import PromptError
from prompts.messages import compose_alert
from prompts.place import area_of
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.changing import revision_history
from web.console.common import action_or_404, duration, labels
from web.ops import backend_unreachable
from web.runtime import current_db, current_settings

RECONNECT_MS = 1000


@bp.get("/actions/<int:action_id>")
@login_required
def action_page(action_id: int):
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if action.status == ActionStatus.DRAFT:
            return redirect(url_for("console.confirm_action", action_id=action_id))
        snapshot = live_snapshot(s, action, settings)
        people = {
            o.id: o.display_name
            for o in s.scalars(
                select(Operator).where(
                    Operator.id.in_(
                        [
                            i
                            for i in (
                                action.started_by_id,
                                action.ended_by_id,
                                action.supervisor_confirmed_by_id,
                            )
                            if i
                        ]
                    )
                )
            )
        }
        return render_template(
            "console/action.html",
            action=action,
            snapshot=snapshot,
            labels=labels(),
            display_text=_display_text(action, settings),
            figures=figures(s, action),
            people=people,
            web=settings.web,
            outcomes=outcome_labels_for(action.incident_type.value),
            duration=duration,
            revisions=revision_history(s, action),
            min_share=settings.dialer.min_share,
            timezone=settings.timezone,
        )


@bp.get("/actions/<int:action_id>/progress.json")
@login_required
def action_progress_json(action_id: int):
    operator = current_operator()
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        return jsonify(live_snapshot(s, action, current_settings()))


@bp.get("/actions/<int:action_id>/events")
@login_required
def action_events_stream(action_id: int):
    """Server-sent events: a snapshot of progress and sightings every web.live_interval_s.

    Each stream is short (web.live_stream_s, 20 s by default) so a viewer holds a server thread
    only briefly: the stream says `retry:` and ends, the browser's EventSource reconnects (and
    the reconnect checks the session again). Every snapshot has an id (a digest of its
    content); a reconnect that sends it back as Last-Event-ID gets no copy of a snapshot it
    already shows, only what changed since. The stream also ends shortly after the action."""
    operator = current_operator()
    settings = current_settings()
    with current_db().session() as s:
        action_or_404(s, action_id, operator)
    db = current_db()
    interval = max(0.2, settings.web.live_interval_s)
    deadline = time.monotonic() + settings.web.live_stream_s
    last_seen = request.headers.get("Last-Event-ID", "")[:64]

    def events():
        last = last_seen
        ended_ticks = 0
        yield f"retry: {RECONNECT_MS}\n\n"
        while True:
            with db.session() as s:
                action = s.get(Action, action_id)
                snapshot = live_snapshot(s, action, settings)
            payload = json.dumps(snapshot, default=_json_default, separators=(",", ":"))
            event_id = hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()
            if event_id != last:
                yield f"id: {event_id}\nevent: progress\ndata: {payload}\n\n"
                last = event_id
            else:
                yield ": keep-alive\n\n"
            if snapshot["status"] == ActionStatus.ENDED.value:
                ended_ticks += 1
                if ended_ticks > 3:
                    return
            if time.monotonic() + interval >= deadline:
                if snapshot["status"] != ActionStatus.ENDED.value:
                    yield "event: reconnect\ndata: {}\n\n"  # a planned end: the browser reconnects
                return  # an ended action: nothing to come back for, however slow the ticks were
            time.sleep(interval)

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def recording_note(status: str | None, duration_s: float | None, transferred: bool) -> str | None:
    """What the centralist must know about a caller's recording, in Dutch (None: nothing)."""
    if status == "truncated":
        kept = f"{duration_s:.0f} s" if duration_s else "een deel"
        return f"Opname onvolledig (opslag vol): alleen {kept} bewaard. Bel de melder terug."
    if status == "failed":
        then = "De melder is doorverbonden." if transferred else "Bel de melder terug."
        return f"Opname mislukt: er kon niets worden opgeslagen. {then}"
    if status == "none" and not transferred:
        return "Opgehangen vóór een melding: niets ingesproken."
    return None


def live_snapshot(s: Session, action: Action, settings: Settings) -> dict:
    """Progress plus the sightings inbox, as plain JSON-able data."""
    progress = action_progress(s, action.id, current_clock(), settings)
    sightings = []
    for item in list_sightings(s, action.id):
        data = _plain(item)
        sid = data.get("id") or data.get("sighting_id")
        data["audio_url"] = (
            url_for("console.sighting_audio", sighting_id=sid) if data.get("recording_path") else None
        )
        data["handle_url"] = url_for("console.handle_sighting", sighting_id=sid)
        data.pop("recording_path", None)
        data["recording_note"] = recording_note(
            data.pop("recording_status", None), data.get("duration_s"), data.get("transferred", False)
        )
        data.pop("recording_error", None)  # for the admin status page, not the centralist
        data["caller"] = mask_phone(data.pop("caller_number", None)) or "anoniem"
        sightings.append(data)
    return {
        "action_id": action.id,
        "status": action.status.value,
        "outcome": action.outcome.value if action.outcome else None,
        "progress": _plain(progress),
        "figures": _plain(figures(s, action)),
        "sightings": sightings,
        "revisions": [
            {
                "number": r["number"],
                "at": r["at"].isoformat(),
                "what": r["what"],
                "text": r["text"],
                "progress": r["progress"],
            }
            for r in revision_history(s, action)
        ],
        # Every dialer of the backend says it cannot hand calls over: "centrale niet bereikbaar".
        "backend_unreachable": backend_unreachable(
            recent(current_db(), within_s=120), settings.phone_backend
        ),
    }


def _display_text(action: Action, settings: Settings) -> str:
    """The alert as written (the frozen voice text is in spoken form: "nul acht nul nul")."""
    try:
        return compose_alert(
            action.incident_type.value,
            dict(action.description or {}),
            action.free_text or "",
            callback_number_for(action.control_room, settings.callback_number),
            area=area_of(action.location_label or ""),
        ).display
    except PromptError:
        return action.voice_text or ""


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
