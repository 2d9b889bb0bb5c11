"""Changing a running action from its live page (actions.change): an update (vervolgbericht)
with a new description or free text, and a wider circle or a moved point, confirmed with the
number of participants it adds. A supervisor confirms on the spot when the change takes the
action above the limits. Wrong input shows the page again with everything typed kept."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from actions.change import AreaPreview, change_area, checked_area, preview_area, send_update
from actions.errors import ActionError, InvalidActionRequest
from actions.request import field_specs
from actions.supervisor import is_supervisor, needs_supervisor
from db.models import Action, ActionStatus, Delivery, DeliveryKind, DeliveryState, Operator
from deliveries.states import IN_PROGRESS, REACHED
from web.action_form import form_values
from web.auth import current_operator, login_required
from web.common import client_ip, current_clock
from web.console.blueprint import bp
from web.console.common import action_or_404, labels
from web.console.confirm import _supervisor_login
from web.console.form import geocode_address
from web.runtime import current_db, current_settings
from web.validation import parse_int


def _supervisor_from(form: MultiDict) -> tuple[Operator | None, str | None]:
    if not form.get("supervisor_username"):
        return None, None
    return _supervisor_login(form.get("supervisor_username", ""), form.get("supervisor_password", ""))


def _render(
    s,
    action: Action,
    *,
    update_values: dict | None = None,
    area_values: dict | None = None,
    errors: dict | None = None,
    area_preview: AreaPreview | None = None,
    status: int = 200,
):
    settings = current_settings()
    operator = current_operator()
    contact_points = len(
        s.scalars(
            select(Delivery.id).where(Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT)
        ).all()
    )
    return (
        render_template(
            "console/change.html",
            action=action,
            labels=labels(),
            specs=field_specs(action.incident_type.value),
            update=update_values
            or {"description": dict(action.description or {}), "free_text": action.free_text or ""},
            area=area_values
            or {
                "lat": action.lat,
                "lon": action.lon,
                "radius_m": action.radius_m,
                "location_label": action.location_label or "",
            },
            errors=errors or {},
            area_preview=area_preview,
            is_supervisor=is_supervisor(operator),
            update_needs_supervisor=needs_supervisor(
                action.radius_m,
                contact_points,
                max_radius_m=settings.max_radius_without_supervisor_m,
                max_recipients=settings.max_recipients_without_supervisor,
            ),
        ),
        status,
    )


def _running_or_back(action: Action):
    if action.status != ActionStatus.RUNNING:
        flash("Alleen een lopende actie kan worden gewijzigd.", "error")
        return redirect(url_for("console.action_page", action_id=action.id))
    return None


@bp.get("/actions/<int:action_id>/change")
@login_required
def change_page(action_id: int):
    with current_db().session() as s:
        action = action_or_404(s, action_id, current_operator())
        return _running_or_back(action) or _render(s, action)


@bp.post("/actions/<int:action_id>/update", endpoint="send_update")
@login_required
def update_action(action_id: int):
    operator = current_operator()
    form = request.form
    values, description = form_values(form)
    typed = {"description": description, "free_text": values["free_text"]}
    supervisor, refused = _supervisor_from(form)
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if (back := _running_or_back(action)) is not None:
            return back
        if refused:
            return _render(s, action, update_values=typed, errors={"supervisor": refused}, status=422)
        try:
            revision = send_update(
                s,
                action,
                operator,
                description,
                values["free_text"],
                current_clock(),
                current_settings(),
                supervisor=supervisor,
                ip=client_ip(),
            )
        except InvalidActionRequest as invalid:
            s.rollback()
            return _render(s, action, update_values=typed, errors=invalid.errors, status=422)
        except ActionError as error:
            s.rollback()
            return _render(s, action, update_values=typed, errors={"update": error.user_message}, status=422)
        queued, pending = revision.updates_queued, revision.pending_with_new_text
    flash(
        f"Vervolgbericht verstuurd: {queued} al bereikte deelnemers krijgen de aanvulling, "
        f"{pending} nog niet bereikte krijgen de nieuwe tekst.",
        "success",
    )
    return redirect(url_for("console.action_page", action_id=action_id) + "#wijzigingen")


def _area_from(form: MultiDict) -> tuple[dict, tuple[float, float, int, str]]:
    """What was typed, and the checked circle (an address is looked up when one was given)."""
    typed = {
        "lat": form.get("lat", ""),
        "lon": form.get("lon", ""),
        "radius_m": form.get("radius_m", ""),
        "location_label": form.get("location_label", ""),
        "postcode": form.get("postcode", ""),
        "house_number": form.get("house_number", ""),
    }
    if typed["postcode"].strip() or typed["house_number"].strip():
        point = geocode_address(typed["postcode"].strip(), typed["house_number"].strip(), "")
        typed["lat"], typed["lon"] = str(point.lat), str(point.lon)
        typed["location_label"] = point.label
        typed["postcode"] = typed["house_number"] = ""
    return typed, checked_area(typed["lat"], typed["lon"], typed["radius_m"], typed["location_label"])


@bp.post("/actions/<int:action_id>/area/preview", endpoint="preview_area")
@login_required
def area_preview(action_id: int):
    """The confirmation step: how many participants the changed circle adds."""
    operator = current_operator()
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if (back := _running_or_back(action)) is not None:
            return back
        typed = dict(request.form.items())
        try:
            typed, (lat, lon, radius, label) = _area_from(request.form)
            result = preview_area(
                s, action, lat, lon, radius, label, current_clock().now(), current_settings()
            )
        except InvalidActionRequest as invalid:
            return _render(s, action, area_values=typed, errors=invalid.errors, status=422)
        finally:
            s.rollback()
        return _render(s, action, area_values=typed, area_preview=result)


@bp.post("/actions/<int:action_id>/area", endpoint="change_area")
@login_required
def area_change(action_id: int):
    operator = current_operator()
    form = request.form
    expected = parse_int(form.get("expected_added"))
    supervisor, refused = _supervisor_from(form)
    with current_db().session() as s:
        action = action_or_404(s, action_id, operator)
        if (back := _running_or_back(action)) is not None:
            return back
        typed = dict(form.items())
        try:
            lat, lon, radius, label = checked_area(
                form.get("lat"), form.get("lon"), form.get("radius_m"), form.get("location_label")
            )
            if refused:
                raise InvalidActionRequest({"supervisor": refused})
            revision = change_area(
                s,
                action,
                operator,
                lat,
                lon,
                radius,
                label,
                current_clock(),
                current_settings(),
                expected_added=expected,
                supervisor=supervisor,
                ip=client_ip(),
            )
        except InvalidActionRequest as invalid:
            s.rollback()
            return _render(s, action, area_values=typed, errors=invalid.errors, status=422)
        except ActionError as error:
            s.rollback()
            return _render(s, action, area_values=typed, errors={"area": error.user_message}, status=422)
        added = revision.recipients_added
    flash(f"De cirkel is gewijzigd: {added} nieuwe contactpunten worden benaderd.", "success")
    return redirect(url_for("console.action_page", action_id=action_id) + "#wijzigingen")


def _update_progress(s, action: Action) -> dict[int, str]:
    """Per update (revision number): how far its short updates got, in Dutch ("3 van 10
    bereikt", with what is still under way or was cancelled when the action ended)."""
    counts: dict[int, dict[str, int]] = {}
    for revision, state in s.execute(
        select(Delivery.revision, Delivery.state).where(
            Delivery.action_id == action.id, Delivery.kind == DeliveryKind.UPDATE
        )
    ):
        c = counts.setdefault(revision, {"total": 0, "reached": 0, "open": 0, "cancelled": 0})
        c["total"] += 1
        if state in REACHED:
            c["reached"] += 1
        elif state == DeliveryState.CANCELLED:
            c["cancelled"] += 1
        elif state in IN_PROGRESS or state in (DeliveryState.QUEUED, DeliveryState.HELD):
            c["open"] += 1
    out = {}
    for revision, c in counts.items():
        text = f"{c['reached']} van {c['total']} bereikt"
        if c["open"]:
            text += f", {c['open']} onderweg"
        if c["cancelled"]:
            text += f", {c['cancelled']} geannuleerd"
        out[revision] = text
    return out


def revision_history(s, action: Action) -> list[dict]:
    """The live page's history of changes, oldest first, in Dutch; each line also as `text`
    (after its bold head) and, for an update, its `progress`, so the page's script can
    write a change made meanwhile, and the updates' progress, as the template does."""
    progress = _update_progress(s, action)
    revisions = list(action.revisions)
    ids = {r.operator_id for r in revisions} | {r.supervisor_confirmed_by_id for r in revisions}
    names = {
        o.id: o.display_name
        for o in s.scalars(select(Operator).where(Operator.id.in_([i for i in ids if i])))
    }
    history = []
    for r in revisions:
        if r.kind.value == "update":
            what = "Vervolgbericht"
            result = (
                f"aanvulling aan {r.updates_queued} al bereikte contactpunten; "
                f"{r.pending_with_new_text} nog niet bereikte krijgen de nieuwe tekst"
            )
        else:
            before, after = r.before or {}, r.after or {}
            moved = (before.get("lat"), before.get("lon")) != (after.get("lat"), after.get("lon"))
            what = "Cirkel verplaatst" if moved else "Straal vergroot"
            if moved and before.get("radius_m") != after.get("radius_m"):
                what = "Cirkel verplaatst en straal gewijzigd"
            result = (
                f"straal {before.get('radius_m')} → {after.get('radius_m')} m"
                + (f", {after.get('location_label')}" if moved and after.get("location_label") else "")
                + f"; {r.recipients_added} nieuwe contactpunten, {r.recipients_total} in totaal"
            )
        by = names.get(r.operator_id or 0, "")
        supervisor = names.get(r.supervisor_confirmed_by_id or 0, "")
        history.append(
            {
                "number": r.number,
                "at": r.at,
                "what": what,
                "result": result,
                "by": by,
                "supervisor": supervisor,
                "text": (f" door {by}" if by else "")
                + (f" (bevestigd door {supervisor})" if supervisor else "")
                + f": {result}.",
                "progress": progress.get(r.number, "") if r.kind.value == "update" else "",
            }
        )
    return history
