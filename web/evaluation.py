"""The pilot's evaluation for supervisors: figures, charts (vendored Chart.js) and CSV export."""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from config.local_time import format_date, start_of_day, today
from db.models import ControlRoom, Role
from evaluation.export import TABLES, report_csv
from evaluation.figures import EvaluationError, Report, Scope, build_report, municipality_names
from web.auth import login_required
from web.common import current_clock
from web.runtime import current_db, current_settings
from web.validation import EARLIEST_DATE, LATEST_DATE, parse_date, parse_id

bp = Blueprint("evaluation", __name__, url_prefix="/evaluatie")

TYPE_LABELS = {
    "suspect": "verdachte",
    "missing_person": "vermiste persoon",
    "missing_child": "vermist kind",
    "vehicle": "voertuig",
    "other": "overig",
}
OUTCOME_LABELS = {
    "arrested": "aanhouding",
    "found": "gevonden",
    "vehicle_found": "voertuig gevonden",
    "no_result": "geen resultaat",
    "other": "anders",
    "running": "loopt nog",
    "draft": "concept",
}
CHANNEL_LABELS = {"voice": "oproep", "sms": "sms", "email": "e-mail"}
KIND_LABELS = {"landline": "vast", "mobile": "mobiel", "": ""}


@bp.app_template_filter("nl_number")
def nl_number(value, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5': Dutch thousands and decimal separators; None -> '—'."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    day = parse_date(raw)
    if day is None:
        abort(
            400,
            "Vul datums in als jjjj-mm-dd, tussen "
            f"{format_date(EARLIEST_DATE)} en {format_date(LATEST_DATE)}.",
        )
    return day


def scope_from_request() -> tuple[Scope, dict]:
    """The period (local dates, both inclusive) and filters from the query string."""
    tz = current_settings().timezone
    now_day = today(current_clock().now(), tz)
    first = _day(request.args.get("van"), now_day.replace(day=1))
    last = _day(request.args.get("tot"), now_day)
    room_raw = request.args.get("meldkamer", "")
    room_id = parse_id(room_raw)
    if room_raw and room_id is None:
        abort(400, "Kies een meldkamer uit de lijst.")
    municipality = request.args.get("gemeente", "")[:120] or None
    # In training mode every action is a training action: count them unless the form says not.
    submitted = "van" in request.args
    training = request.args.get("training") == "1" if submitted else current_settings().training_mode
    try:
        scope = Scope(
            start=start_of_day(first, tz),
            end=start_of_day(last + timedelta(days=1), tz),
            control_room_id=room_id,
            municipality=municipality,
            include_training=training,
        )
    except EvaluationError:
        abort(400, "De einddatum moet op of na de begindatum liggen.")
    form = {
        "van": first.isoformat(),
        "tot": last.isoformat(),
        "meldkamer": room_id,
        "gemeente": municipality or "",
        "training": training,
    }
    return scope, form


def chart_data(report: Report) -> dict:
    """What the charts draw, as plain lists (labels already Dutch)."""
    types = sorted({t for t, _ in report.by_type_outcome})
    outcomes = sorted({o for _, o in report.by_type_outcome})
    growth_months = sorted({g.month for g in report.growth})
    growth_names = sorted({g.municipality for g in report.growth})
    growth_total = {(g.municipality, g.month): g.total for g in report.growth}
    return {
        "typeOutcome": {
            "labels": [TYPE_LABELS.get(t, t) for t in types],
            "series": [
                {
                    "label": OUTCOME_LABELS.get(o, o),
                    "data": [report.by_type_outcome.get((t, o), 0) for t in types],
                }
                for o in outcomes
            ],
        },
        "answerRates": {
            "labels": [
                (
                    f"{CHANNEL_LABELS.get(c.channel, c.channel)} "
                    f"{KIND_LABELS.get(c.phone_kind, c.phone_kind)}"
                ).strip()
                for c in report.channels
            ],
            "reached": [round(100 * (c.answer_rate or 0), 1) for c in report.channels],
            "acknowledged": [round(100 * (c.acknowledge_rate or 0), 1) for c in report.channels],
        },
        "growth": {
            "labels": growth_months,
            "series": [
                {"label": n, "data": [growth_total.get((n, m), 0) for m in growth_months]}
                for n in growth_names
            ],
        },
        "coverage": {
            "labels": [c.municipality for c in report.coverage if c.population],
            "data": [round(c.per_thousand, 2) for c in report.coverage if c.population],
        },
    }


@bp.get("/")
@login_required(role=Role.SUPERVISOR)
def index():
    scope, form = scope_from_request()
    with current_db().session() as s:
        report = build_report(s, scope)
        rooms = s.execute(select(ControlRoom.id, ControlRoom.name).order_by(ControlRoom.name)).all()
        municipalities = municipality_names(s)
    query = {
        k: v for k, v in request.args.items() if k in ("van", "tot", "meldkamer", "gemeente", "training")
    }
    return render_template(
        "evaluation/index.html",
        report=report,
        form=form,
        rooms=rooms,
        municipalities=municipalities,
        charts=json.dumps(chart_data(report)).replace("<", "\\u003c"),
        tables=TABLES,
        query=query,
        type_labels=TYPE_LABELS,
        outcome_labels=OUTCOME_LABELS,
        channel_labels=CHANNEL_LABELS,
        kind_labels=KIND_LABELS,
    )


@bp.get("/export/<table>.csv")
@login_required(role=Role.SUPERVISOR)
def export(table: str):
    if table not in TABLES:
        abort(404, "Deze tabel bestaat niet.")
    scope, form = scope_from_request()
    with current_db().session() as s:
        body = report_csv(build_report(s, scope), table, current_settings().timezone)
    name = f"burgernet-{table}-{form['van']}-{form['tot']}.csv"
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
