"""The console's start page: the actions of the operator's control room, running first."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from actions.figures import figures_for
from db.models import Action, ActionStatus, Participant
from web.auth import current_operator, login_required
from web.console.blueprint import bp
from web.console.common import labels
from web.runtime import current_db


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
        participants = s.scalar(select(func.count()).select_from(Participant)) or 0
    order = {ActionStatus.RUNNING: 0, ActionStatus.DRAFT: 1, ActionStatus.ENDED: 2}
    listed.sort(key=lambda pair: order[pair[0].status])
    return render_template(
        "console/index.html",
        listed=listed,
        participants=participants,
        database=db.engine.dialect.name,
        labels=labels(),
    )
