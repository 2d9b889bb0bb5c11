"""The call-back view of the console (callback_line.queue.board): who waits in the control
room's call queue, who talks to whom, the missed callers with a "call back" button, and the
centralist's own presence (available / busy). The page polls its JSON every few seconds."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for

from callback_line.call_back import CallBackRefused, call_back_missed, set_presence
from callback_line.desk_phones import DeskPhones
from callback_line.queue import Board, LineCall, board
from db.models import ControlRoom, Operator
from dialer.wiring import build_desk_phones
from web.auth import current_operator, login_required
from web.common import current_clock
from web.console.blueprint import bp
from web.console.common import duration
from web.formatting import local_text
from web.runtime import current_db, current_settings

POLL_MS = 2000


def desk_phones() -> DeskPhones:
    """The configured backend's desk phones; tests put a fake in app.extensions."""
    phones = current_app.extensions.get("burgernet.desk_phones")
    return phones if phones is not None else build_desk_phones(current_settings())


@bp.get("/terugbellen")
@login_required
def callback_line_page():
    operator = current_operator()
    with current_db().session() as s:
        room = s.get(ControlRoom, operator.control_room_id)
        me = s.get(Operator, operator.id)
        return render_template(
            "console/callback_line.html",
            room=room,
            available=me.available,
            board=_json(board(s, operator.control_room_id, current_clock().now())),
            poll_ms=POLL_MS,
        )


@bp.get("/terugbellen/board.json")
@login_required
def callback_line_json():
    operator = current_operator()
    with current_db().session() as s:
        return jsonify(_json(board(s, operator.control_room_id, current_clock().now())))


@bp.post("/terugbellen/<int:sighting_id>/bellen")
@login_required
def call_back(sighting_id: int):
    operator = current_operator()
    with current_db().session() as s:
        try:
            call_back_missed(
                s,
                desk_phones(),
                current_clock(),
                s.get(Operator, operator.id),
                sighting_id,
                request.remote_addr,
            )
            flash("Uw toestel gaat over; zodra u opneemt, wordt de beller gebeld.", "success")
        except CallBackRefused as refused:
            s.rollback()
            flash(str(refused), "error")
    return redirect(url_for("console.callback_line_page"))


@bp.post("/terugbellen/beschikbaarheid")
@login_required
def presence():
    operator = current_operator()
    available = request.form.get("available") == "1"
    with current_db().session() as s:
        try:
            set_presence(s, desk_phones(), s.get(Operator, operator.id), available, request.remote_addr)
            flash("U bent beschikbaar voor bellers." if available else "U staat op bezet.", "success")
        except CallBackRefused as refused:
            s.rollback()
            flash(str(refused), "error")
    return redirect(url_for("console.callback_line_page"))


def _json(data: Board) -> dict:
    return {
        "waiting": [_call(c) for c in data.waiting],
        "talking": [_call(c) for c in data.talking],
        "missed": [_call(c) for c in data.missed],
    }


def _call(call: LineCall) -> dict:
    return {
        "id": call.id,
        "state": call.state,
        "caller": call.caller_number or "afgeschermd nummer",
        "withheld": call.caller_number is None,
        "participant": call.participant_name,
        "action": call.action_label,
        "distance": f"{call.distance_m / 1000:.1f} km" if call.distance_m is not None else None,
        "received": _time(call.received_at),
        "wait": duration(call.wait_s),
        "wait_s": call.wait_s,
        "answered_by": call.answered_by,
        "called_back": _time(call.called_back_at) if call.called_back_at else None,
    }


def _time(moment: datetime | None) -> str:
    return local_text(moment, "time_seconds")
