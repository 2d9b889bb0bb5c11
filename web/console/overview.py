"""The console's start page: the running actions of the operator's control room at a glance
(progress, estimate, share of the lines, sightings waiting), then all its actions, running
first. The page refreshes its two parts itself (static/js/actions_overview.js)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from actions.figures import figures_for
from actions.progress import ActionProgress, action_progress
from db.models import Action, ActionStatus, Participant, Sighting
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.common import duration, labels
from web.runtime import current_db, current_settings


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
        by_action = figures_for(s, list(rows))
        listed = [(a, by_action[a.id]) for a in rows]
        running = running_overview(s, [a for a in rows if a.status == ActionStatus.RUNNING])
        participants = s.scalar(select(func.count()).select_from(Participant)) or 0
    order = {ActionStatus.RUNNING: 0, ActionStatus.DRAFT: 1, ActionStatus.ENDED: 2}
    listed.sort(key=lambda pair: order[pair[0].status])
    return render_template(
        "console/index.html",
        listed=listed,
        running=running,
        duration=duration,
        live_interval_ms=int(max(2.0, current_settings().web.live_interval_s * 3) * 1000),
        participants=participants,
        database=db.engine.dialect.name,
        labels=labels(),
    )


def running_overview(s, actions: list[Action]) -> list[tuple[Action, ActionProgress, int]]:
    """Each running action with its progress and the sightings not yet handled."""
    if not actions:
        return []
    waiting = dict(
        s.execute(
            select(Sighting.action_id, func.count())
            .where(Sighting.action_id.in_([a.id for a in actions]), Sighting.handled.is_(False))
            .group_by(Sighting.action_id)
        ).all()
    )
    clock, settings = current_clock(), current_settings()
    overview = [(a, action_progress(s, a.id, clock, settings), waiting.get(a.id, 0)) for a in actions]
    overview.sort(key=lambda item: (item[0].started_at or item[0].created_at, item[0].id))
    return overview
