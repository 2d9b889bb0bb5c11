from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from config.runtime import current_db, current_settings
from db.models import Action, ControlRoom, Participant, PhoneNumber

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    db = current_db()
    with db.session() as s:
        counts = {
            "deelnemers": s.scalar(select(func.count()).select_from(Participant)),
            "telefoonnummers": s.scalar(select(func.count()).select_from(PhoneNumber)),
            "meldkamers": s.scalar(select(func.count()).select_from(ControlRoom)),
            "acties": s.scalar(select(func.count()).select_from(Action)),
        }
    return render_template(
        "home.html",
        counts=counts,
        database=db.engine.url.render_as_string(hide_password=True),
        settings=current_settings(),
    )


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
