"""Mijn Burgernet: log in by a code or an emailed link, then keep your data right, pause,
stop, download everything held about you, or delete your account (Dutch pages)."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session

from config.local_time import today as local_today
from db.models import AddressKind, Participant, ParticipantStatus, PhoneKind
from deliveries.message_texts import read_unsubscribe_token
from participants import selfservice as ss
from participants.verification import CheckResult, Method, Purpose, RateLimited, VerificationError
from web.common import client_ip, current_clock
from web.csrf import SESSION_KEY as CSRF_SESSION_KEY
from web.formatting import local_text
from web.runtime import current_db, current_settings
from web.signup import (
    CHANNEL_LABELS,
    CHECK_TEXTS,
    DAYS,
    RATE_LIMITED,
    TrainingCourier,
    address_from_form,
    geocode_address,
    parse_phone,
    portal_courier,
    verifier,
)
from web.validation import parse_date, parse_id

bp = Blueprint("selfservice", __name__)

SESSION_KEY = "participant_id"
SENT_TEXT = (
    "Als dit nummer of adres bij ons bekend en bevestigd is, is er nu een code of inloglink naartoe gestuurd."
)
STATUS_LABELS = {"active": "actief", "paused": "gepauzeerd", "opted_out": "afgemeld"}


# --- the participant's session ------------------------------------------------------------


def _log_in(participant_id: int) -> None:
    # A fresh session, its CSRF token included (no token of the anonymous session survives;
    # Flask-WTF also caches the token for this request in g).
    session.clear()
    g.pop(CSRF_SESSION_KEY, None)
    session[SESSION_KEY] = participant_id
    session["participant_seen"] = current_clock().now().isoformat()


def _session_participant_id() -> int | None:
    participant_id = session.get(SESSION_KEY)
    if participant_id is None:
        return None
    try:
        seen = datetime.fromisoformat(session.get("participant_seen", ""))
    except ValueError:
        seen = None
    now = current_clock().now()
    if seen is None or now - seen > timedelta(minutes=current_settings().portal.session_minutes):
        session.pop(SESSION_KEY, None)
        flash("Uw sessie is verlopen. Log opnieuw in.", "warning")
        return None
    session["participant_seen"] = now.isoformat()
    return participant_id


def participant_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        participant_id = _session_participant_id()
        if participant_id is None:
            return redirect(url_for("selfservice.login"))
        g.participant_id = participant_id
        return view(*args, **kwargs)

    return wrapper


def _me(s: Session) -> Participant:
    participant = s.get(Participant, g.participant_id)
    if participant is None:
        session.pop(SESSION_KEY, None)
        abort(404, "Deze aanmelding bestaat niet meer.")
    return participant


# --- log in -------------------------------------------------------------------------------


@bp.route("/mijn", methods=["GET", "POST"])
def login():
    if request.method == "GET" and _session_participant_id() is not None:
        return redirect(url_for("selfservice.overview"))
    error = None
    if request.method == "POST":
        try:
            with current_db().transaction() as s:
                challenge = ss.request_login(
                    s, verifier(s), request.form.get("identifier", "")[:254], client_ip(), parse_phone
                )
        except ss.PortalError as exc:
            error = str(exc)
        except RateLimited:
            error = RATE_LIMITED
        except VerificationError:
            error = "Het versturen lukte niet. Probeer het later opnieuw."
        else:
            session["login_target"] = challenge.target
            if challenge.by_link:
                return render_template(
                    "selfservice/link_sent.html",
                    text=SENT_TEXT,
                    training_messages=_training({challenge.target}),
                )
            flash(SENT_TEXT, "info")
            return redirect(url_for("selfservice.code"))
    return render_template("selfservice/login.html", error=error), (400 if error else 200)


def _training(targets: set[str]):
    courier = portal_courier()
    return courier.outbox.for_targets(targets) if isinstance(courier, TrainingCourier) else []


@bp.route("/mijn/code", methods=["GET", "POST"])
def code():
    target = session.get("login_target")
    if not target:
        return redirect(url_for("selfservice.login"))
    error = None
    if request.method == "POST":
        with current_db().transaction() as s:
            participant_id = ss.complete_login(verifier(s), s, target, request.form.get("code", "")[:20])
        if participant_id is not None:
            session.pop("login_target", None)
            _log_in(participant_id)
            return redirect(url_for("selfservice.overview"))
        error = CHECK_TEXTS[CheckResult.WRONG] + " Na enkele pogingen vraagt u een nieuwe code aan."
    return render_template("selfservice/code.html", error=error, training_messages=_training({target})), (
        400 if error else 200
    )


@bp.get("/mijn/link/<token>")
def link(token: str):
    with current_db().transaction() as s:
        record = verifier(s).redeem_link(token[:100])
        participant_id = record.participant_id if record and record.purpose == Purpose.LOGIN.value else None
    if participant_id is None:
        flash("Deze inloglink is verlopen of al gebruikt. Vraag een nieuwe aan.", "error")
        return redirect(url_for("selfservice.login"))
    _log_in(participant_id)
    return redirect(url_for("selfservice.overview"))


@bp.post("/mijn/uitloggen")
def logout():
    session.pop(SESSION_KEY, None)
    flash("U bent uitgelogd.", "info")
    return redirect(url_for("selfservice.login"))


# --- overview and changes -----------------------------------------------------------------


def _window_text(a) -> str:
    if a.window_days is None:
        return "altijd"
    days = ", ".join(label for label, bit in DAYS if a.window_days & bit)
    fmt = lambda m: f"{m // 60:02d}:{m % 60:02d}"
    return f"{days} {fmt(a.window_start_min)}–{fmt(a.window_end_min)}"


@bp.get("/mijn/overzicht")
@participant_required
def overview():
    with current_db().session() as s:
        me = _me(s)
        view = {
            "name": me.name,
            "email": me.email or "",
            "email_verified": me.email_verified,
            "channels": list(me.channels or []),
            "status": ParticipantStatus(me.status).value,
            "paused_until": me.paused_until,
            "birth_year": me.birth_year,
            "phones": [(p.id, p.e164, PhoneKind(p.kind).value, p.verified) for p in me.phones],
            "addresses": [
                (
                    a.id,
                    AddressKind(a.kind).value,
                    a.postcode,
                    a.house_number,
                    a.house_number_addition,
                    a.street or "",
                    a.municipality or "",
                    _window_text(a),
                    a.geocode_status.value,
                )
                for a in me.addresses
            ],
        }
    today = local_today(current_clock().now(), current_settings().timezone)  # not UTC's date
    return render_template(
        "selfservice/overview.html",
        me=view,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        days=DAYS,
        min_date=(today + timedelta(days=1)).isoformat(),
    )


def _change(action):
    """Run one change in a transaction; a PortalError becomes a Dutch message."""
    try:
        with current_db().transaction() as s:
            message = action(s, _me(s))
        if message:
            flash(message, "success")
    except ss.PortalError as exc:
        flash(str(exc), "error")
    except RateLimited:
        flash(RATE_LIMITED, "error")
    except VerificationError:
        flash("Het versturen van de code lukte niet. Probeer het later opnieuw.", "error")
    return redirect(url_for("selfservice.overview"))


@bp.post("/mijn/gegevens")
@participant_required
def change_details():
    def act(s, me):
        needs_link = ss.update_details(
            s,
            current_clock(),
            me,
            name=request.form.get("name", "")[:300],
            email=request.form.get("email", "")[:254],
            channels=request.form.getlist("channels"),
        )
        if needs_link:
            ss.send_email_link(verifier(s), me)
            return "Uw gegevens zijn opgeslagen. Bevestig uw nieuwe e-mailadres met de link die wij stuurden."
        return "Uw gegevens zijn opgeslagen."

    return _change(act)


@bp.post("/mijn/email/link")
@participant_required
def resend_email_link():
    def act(s, me):
        if not me.email or me.email_verified:
            raise ss.PortalError("Er is geen e-mailadres om te bevestigen.", "email")
        verifier(s).check_ip_budget(client_ip())
        ss.send_email_link(verifier(s), me)
        return "Er is een nieuwe bevestigingslink naar uw e-mailadres gestuurd."

    return _change(act)


@bp.post("/mijn/telefoon")
@participant_required
def add_phone():
    def act(s, me):
        verifier(s).check_ip_budget(client_ip())
        phone = ss.add_phone(s, current_clock(), me, request.form.get("number", "")[:40], parse_phone)
        if not phone.verified:
            ss.send_phone_code(verifier(s), me, phone)
        return f"Nummer {phone.e164} is toegevoegd. Vul de code in die wij stuurden."

    return _change(act)


@bp.post("/mijn/telefoon/bevestigen")
@participant_required
def verify_phone():
    def act(s, me):
        phone = next((p for p in me.phones if str(p.id) == request.form.get("phone_id")), None)
        if phone is None:
            raise ss.PortalError("Dit telefoonnummer hoort niet bij uw aanmelding.")
        result = verifier(s).check(me.id, Purpose.PHONE, phone.e164, request.form.get("code", "")[:20])
        if result is not CheckResult.VERIFIED:
            flash(CHECK_TEXTS[result], "error")
            return None
        return f"Nummer {phone.e164} is bevestigd."

    return _change(act)


@bp.post("/mijn/telefoon/code")
@participant_required
def resend_phone_code():
    def act(s, me):
        phone = next((p for p in me.phones if str(p.id) == request.form.get("phone_id")), None)
        if phone is None:
            raise ss.PortalError("Dit telefoonnummer hoort niet bij uw aanmelding.")
        verifier(s).check_ip_budget(client_ip())
        method = Method.VOICE if request.form.get("method") == "voice" else None
        ss.send_phone_code(verifier(s), me, phone, method)
        return "Er is een nieuwe code gestuurd."

    return _change(act)


@bp.post("/mijn/telefoon/verwijderen")
@participant_required
def remove_phone():
    def act(s, me):
        ss.remove_phone(s, current_clock(), me, parse_id(request.form.get("phone_id")) or 0)
        return "Het nummer is verwijderd."

    return _change(act)


@bp.post("/mijn/adres")
@participant_required
def add_address():
    def act(s, me):
        kind = AddressKind.WORK if request.form.get("kind") == "work" else AddressKind.HOME
        data = address_from_form(request.form, "new", kind)
        if data is None:
            raise ss.PortalError("Vul een postcode en huisnummer in.", "postcode")
        ss.add_address(s, current_clock(), me, data, geocode_address)
        return "Het adres is toegevoegd."

    return _change(act)


@bp.post("/mijn/adres/verwijderen")
@participant_required
def remove_address():
    def act(s, me):
        ss.remove_address(s, current_clock(), me, parse_id(request.form.get("address_id")) or 0)
        return "Het adres is verwijderd."

    return _change(act)


@bp.post("/mijn/pauze")
@participant_required
def pause():
    def act(s, me):
        until = parse_date(request.form.get("until"))
        if until is None:
            raise ss.PortalError("Kies een datum (jjjj-mm-dd).", "until")
        resume_at = ss.pause(s, current_clock(), me, until, current_settings().timezone)
        # Written from the stored moment, as the overview writes it: the two cannot differ.
        return f"U krijgt geen oproepen tot {local_text(resume_at, 'date')}."

    return _change(act)


@bp.post("/mijn/hervatten")
@participant_required
def resume():
    def act(s, me):
        ss.resume(s, current_clock(), me)
        return "U krijgt weer oproepen."

    return _change(act)


@bp.post("/mijn/afmelden")
@participant_required
def opt_out():
    def act(s, me):
        ss.opt_out(s, current_clock(), me)
        return "U bent afgemeld en krijgt geen oproepen meer. Uw gegevens bewaren wij tot u ze verwijdert."

    return _change(act)


@bp.route("/mijn/afmelden/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The unsubscribe link of every e-mail (deliveries.message_texts): works without logging
    in. GET only asks for confirmation (a mail scanner that follows links opts nobody out);
    the POST, with the page's CSRF token, opts the participant out and says so."""
    now = current_clock().now()
    participant_id = read_unsubscribe_token(current_app.config["SECRET_KEY"], token[:100], now)
    if participant_id is None:
        return render_template("selfservice/unsubscribe.html", state="invalid"), 404
    with current_db().transaction() as s:
        me = s.get(Participant, participant_id)
        if me is None:
            state = "gone"
        elif me.status is ParticipantStatus.OPTED_OUT:
            state = "already"
        elif request.method == "POST":
            ss.opt_out(s, current_clock(), me)
            state = "done"
        else:
            state = "confirm"
    return render_template("selfservice/unsubscribe.html", state=state, token=token)


@bp.get("/mijn/gegevens.json")
@participant_required
def export():
    with current_db().session() as s:
        data = ss.export_data(s, _me(s))
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="mijn-burgernet-gegevens.json"'},
    )


@bp.post("/mijn/verwijderen")
@participant_required
def delete():
    if request.form.get("confirm") != "verwijder":
        flash("Vink aan dat u uw account wilt verwijderen.", "error")
        return redirect(url_for("selfservice.overview"))
    with current_db().transaction() as s:
        ss.delete_account(s, current_clock(), _me(s))
    session.pop(SESSION_KEY, None)
    return render_template("selfservice/deleted.html")
