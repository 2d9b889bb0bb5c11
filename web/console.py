"""The centralist's console: the actions overview, the new-action form, the live action page."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from config.runtime import current_db, current_settings
from db.models import Action, ActionStatus, Participant
from web.auth import current_operator, login_required

bp = Blueprint("console", __name__)


@bp.get("/")
@login_required
def index():
    operator = current_operator()
    db = current_db()
    with db.session() as s:
        actions = s.scalars(
            select(Action)
            .where(Action.control_room_id == operator.control_room_id)
            .order_by(Action.status == ActionStatus.ENDED, Action.created_at.desc())
            .limit(200)
        ).all()
        participants = s.scalar(select(func.count()).select_from(Participant)) or 0
    return render_template(
        "console/index.html",
        actions=actions,
        participants=participants,
        database=db.engine.dialect.name,
        settings=current_settings(),
    )


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
