"""Public sign-up with verification of every phone number and email address (Dutch pages).

Also the shared wiring of the participants' portal: the code courier (SMS, voice call, email
through the project's ports; the simulated ones in training mode), phone parsing and
geocoding from the participants core.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import log_event
from db.models import (
    Address,
    AddressKind,
    GeocodeStatus,
    Municipality,
    Participant,
    PhoneKind,
    PhoneNumber,
)
from deliveries.call_backend import OriginateError
from deliveries.events import apply_call_event
from dialer.wiring import build_backend, build_senders
from evaluation.figures import coverage
from participants import selfservice as ss
from participants.geocoding import geocode_address as geocode_with
from participants.geocoding import geocoder_for
from participants.phones import InvalidPhoneNumber, parse_participant_phone
from participants.verification import (
    CheckResult,
    Method,
    PortCourier,
    Purpose,
    RateLimited,
    VerificationError,
    VerificationService,
    sms_text,
    voice_text,
)
from web.common import client_ip, current_clock
from web.runtime import current_db, current_settings
from web.validation import HOUSE_NUMBER_MESSAGE, MAX_HOUSE_NUMBER, parse_id, parse_int

log = logging.getLogger(__name__)

bp = Blueprint("signup", __name__)

DAYS = [("ma", 1), ("di", 2), ("wo", 4), ("do", 8), ("vr", 16), ("za", 32), ("zo", 64)]
CHANNEL_LABELS = {"voice": "Telefoonoproep", "sms": "Sms", "email": "E-mail"}
METHOD_LABELS = {Method.SMS: "sms", Method.VOICE: "telefoonoproep", Method.EMAIL: "e-mail"}
CHECK_TEXTS = {
    CheckResult.WRONG: "Deze code klopt niet. Controleer de cijfers en probeer het opnieuw.",
    CheckResult.EXPIRED: "Deze code is verlopen of al gebruikt. Vraag een nieuwe code aan.",
    CheckResult.TOO_MANY_ATTEMPTS: "Te vaak een verkeerde code ingevuld. Vraag een nieuwe code aan.",
}
RATE_LIMITED = "U heeft te veel codes aangevraagd. Probeer het over een uur opnieuw."
CONSENT_TEXT = (
    "Ik meld mij vrijwillig aan voor Burgernet. De politie mag mij bellen, sms'en of e-mailen "
    "met een oproep om uit te kijken naar een persoon of voertuig bij mij in de buurt. Mijn "
    "gegevens worden alleen hiervoor gebruikt, niet gedeeld met anderen, en ik kan ze altijd "
    "inzien, wijzigen of laten verwijderen via 'Mijn Burgernet'."
)


# --- the portal's wiring ------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingMessage:
    target: str
    method: str
    text: str


class TrainingOutbox:
    """In training mode: what the simulated SMS, email and call backends were given, so the
    sign-up page can show it (nobody receives anything real)."""

    def __init__(self, limit: int = 200):
        self.items: list[TrainingMessage] = []
        self.limit = limit
        self._lock = threading.Lock()

    def add(self, target: str, method: str, text: str) -> None:
        with self._lock:
            self.items.append(TrainingMessage(target, method, text))
            del self.items[: -self.limit]

    def for_targets(self, targets: set[str]) -> list[TrainingMessage]:
        with self._lock:
            return [m for m in self.items if m.target in targets]


class TrainingCourier(PortCourier):
    """The PortCourier of training mode: the same texts and ports, and a visible outbox."""

    def __init__(self, outbox: TrainingOutbox, **kwargs):
        super().__init__(**kwargs)
        self.outbox = outbox

    def send_code(self, session, participant, purpose, method, target, code, link):
        super().send_code(session, participant, purpose, method, target, code, link)
        if method is Method.EMAIL:
            path = self.login_link_path if purpose is Purpose.LOGIN else self.link_path
            text = "Link: " + self.public_base_url + path.format(token=link)
        elif method is Method.VOICE:
            text = voice_text(code)
        else:
            text = sms_text(code, Purpose(purpose).value)
        self.outbox.add(target, method.value, text)


class PortalCallBackend:
    """The phone backend of this process for verification calls, built and started on the
    first call (dialer.wiring picks the adapter: simulator, Asterisk or Twilio). Its events
    are applied to the verification delivery rows like any call's."""

    def __init__(self, settings, db, clock):
        self.name = settings.phone_backend
        self._settings, self._db, self._clock = settings, db, clock
        self._backend = None
        self._lock = threading.Lock()

    def _sink(self, event) -> None:
        try:
            with self._db.transaction() as s:
                apply_call_event(s, event, self._clock, self._settings)
        except Exception as exc:  # keep the backend running; the row keeps its last state
            log_event(log, "portal.call_event_failed", logging.WARNING, error=repr(exc))

    def originate(self, request):
        with self._lock:
            if self._backend is None:
                backend = build_backend(self._settings, self._clock)
                try:
                    backend.start(self._sink)
                except Exception as exc:
                    raise OriginateError(f"{self.name} backend could not start: {exc}") from exc
                self._backend = backend
        return self._backend.originate(request)


def portal_courier() -> PortCourier:
    """One courier per app: tests may put their own in app.extensions["burgernet.portal_courier"];
    a process that already runs a phone backend may share it as "burgernet.call_backend"."""

    ext = current_app.extensions
    courier = ext.get("burgernet.portal_courier")
    if courier is not None:
        return courier
    settings = current_settings()
    senders = build_senders(settings)
    backend = ext.get("burgernet.call_backend") or PortalCallBackend(settings, current_db(), current_clock())
    common = dict(
        sms=senders["sms"],
        email=senders["email"],
        call_backend=backend,
        caller_id=settings.caller_id,
        public_base_url=settings.portal.public_base_url,
        call_timeout_s=settings.dialer.dial_timeout_s,
        clock=current_clock(),
    )
    courier = TrainingCourier(TrainingOutbox(), **common) if settings.training_mode else PortCourier(**common)
    ext["burgernet.portal_courier"] = courier
    return courier


def verifier(s: Session) -> VerificationService:
    return VerificationService(
        s,
        current_clock(),
        current_settings().portal,
        current_app.config["SECRET_KEY"],
        portal_courier(),
    )


def parse_phone(raw: str) -> tuple[str, PhoneKind]:
    try:
        parsed = parse_participant_phone(raw, current_settings().default_region)
    except InvalidPhoneNumber as exc:
        raise ValueError(exc.user_message) from exc
    return parsed.e164, parsed.kind


def geocode_address(s: Session, address: Address) -> None:
    """Coordinates from the participants core: the local gazetteer first, then PDOK when a
    base URL is configured. An address not found is kept, marked failed, and reported."""

    geocode_with(address, geocoder_for(s, current_settings()))


# --- form parsing -------------------------------------------------------------------------


def _minutes(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    hours_raw, _, minutes_raw = raw.partition(":")
    hours, minutes = parse_int(hours_raw, maximum=24), parse_int(minutes_raw, maximum=59)
    if hours is None or minutes is None or len(minutes_raw.strip()) != 2:
        raise ss.PortalError("Vul tijden in als uu:mm, bijvoorbeeld 08:30.", "window")
    value = hours * 60 + minutes
    if not 0 <= value <= 24 * 60:
        raise ss.PortalError("Vul tijden in als uu:mm, bijvoorbeeld 08:30.", "window")
    return value


def address_from_form(form, prefix: str, kind: AddressKind) -> ss.AddressInput | None:
    postcode = form.get(f"{prefix}_postcode", "").strip()
    number = form.get(f"{prefix}_number", "").strip()
    if not postcode and not number:
        return None
    if parse_int(number, minimum=1, maximum=MAX_HOUSE_NUMBER) is None:
        raise ss.PortalError(HOUSE_NUMBER_MESSAGE, f"{prefix}_number")
    days = sum(bit for _label, bit in DAYS if form.get(f"{prefix}_day_{bit}"))
    start, end = _minutes(form.get(f"{prefix}_from")), _minutes(form.get(f"{prefix}_to"))
    windowed = bool(days or start is not None or end is not None)
    return ss.AddressInput(
        kind=kind,
        postcode=postcode,
        house_number=number,
        addition=form.get(f"{prefix}_addition", ""),
        window_days=days or None if windowed else None,
        window_start_min=start if windowed else None,
        window_end_min=end if windowed else None,
    )


def signup_input_from_form(form) -> ss.SignUpInput:
    addresses = [
        a
        for a in (
            address_from_form(form, "home", AddressKind.HOME),
            address_from_form(form, "work", AddressKind.WORK),
        )
        if a is not None
    ]
    return ss.SignUpInput(
        name=form.get("name", "")[:300],
        birth_year=form.get("birth_year", ""),
        email=form.get("email", "")[:254],
        phones=[form.get("mobile", "")[:40], form.get("landline", "")[:40]],
        addresses=addresses,
        channels=form.getlist("channels"),
        consent=form.get("consent") == "ja",
    )


# --- pages --------------------------------------------------------------------------------


def _municipalities(s: Session) -> list[str]:
    return list(s.scalars(select(Municipality.name).order_by(Municipality.name)))


@bp.route("/aanmelden", methods=["GET", "POST"])
def form():
    municipality = request.args.get("gemeente", "")[:120]
    error = None
    if request.method == "POST":
        try:
            data = signup_input_from_form(request.form)
            with current_db().transaction() as s:
                verifier(s).check_ip_budget(client_ip())
            with current_db().transaction() as s:
                participant = ss.sign_up(
                    s, current_clock(), current_settings().portal, data, parse_phone, geocode_address
                )
                v = verifier(s)
                for phone in participant.phones:
                    ss.send_phone_code(v, participant, phone, _chosen_method(phone))
                ss.send_email_link(v, participant)
                participant_id = participant.id
        except ss.PortalError as exc:
            error = exc
        except RateLimited:
            error = ss.PortalError(RATE_LIMITED)
        except VerificationError as exc:
            log_event(log, "portal.send_failed", logging.ERROR, error=str(exc))
            error = ss.PortalError("Het versturen van de code lukte niet. Probeer het later opnieuw.")
        else:
            session["signup_participant_id"] = participant_id
            return redirect(url_for("signup.verify"))
    with current_db().session() as s:
        municipalities = _municipalities(s)
    return render_template(
        "signup/form.html",
        form=request.form,
        error=error,
        days=DAYS,
        channel_labels=CHANNEL_LABELS,
        consent_text=CONSENT_TEXT,
        municipality=municipality,
        municipalities=municipalities,
    ), (400 if error else 200)


def _chosen_method(phone: PhoneNumber) -> Method:
    wanted = request.form.get("code_method", "auto")
    if wanted == "voice" or PhoneKind(phone.kind) is PhoneKind.LANDLINE:
        return Method.VOICE
    return Method.SMS


def _signup_participant(s: Session) -> Participant:
    participant_id = session.get("signup_participant_id")
    participant = s.get(Participant, participant_id) if participant_id else None
    if participant is None:
        abort(404, "Er is geen aanmelding om te bevestigen. Begin opnieuw bij 'Aanmelden'.")
    return participant


@bp.route("/aanmelden/bevestigen", methods=["GET", "POST"])
def verify():
    message = None
    with current_db().transaction() as s:
        participant = _signup_participant(s)
        if request.method == "POST":
            phone = _own_phone(participant, request.form.get("phone_id"))
            result = verifier(s).check(
                participant.id, Purpose.PHONE, phone.e164, request.form.get("code", "")[:20]
            )
            if result is CheckResult.VERIFIED:
                flash(f"Nummer {phone.e164} is bevestigd.", "success")
            else:
                message = CHECK_TEXTS[result]
        phones = [(p.id, p.e164, PhoneKind(p.kind).value, p.verified) for p in participant.phones]
        email = (participant.email, participant.email_verified)
        targets = {p[1] for p in phones} | ({participant.email} if participant.email else set())
        all_done = all(p[3] for p in phones) and (not participant.email or participant.email_verified)
        addresses_pending = [a for a in participant.addresses if a.geocode_status != GeocodeStatus.OK]
        pending_text = [f"{a.postcode} {a.house_number}{a.house_number_addition}" for a in addresses_pending]
    outbox = portal_courier()
    training = outbox.outbox.for_targets(targets) if isinstance(outbox, TrainingCourier) else []
    return render_template(
        "signup/verify.html",
        phones=phones,
        email=email,
        message=message,
        all_done=all_done,
        training_messages=training,
        pending_addresses=pending_text,
    ), (400 if message else 200)


def _own_phone(participant: Participant, raw_id) -> PhoneNumber:
    phone_id = parse_id(raw_id)
    if phone_id is None:
        abort(400, "Kies een telefoonnummer.")
    phone = next((p for p in participant.phones if p.id == phone_id), None)
    if phone is None:
        abort(404, "Dit telefoonnummer hoort niet bij deze aanmelding.")
    return phone


@bp.post("/aanmelden/opnieuw")
def resend():
    with current_db().transaction() as s:
        participant = _signup_participant(s)
        try:
            verifier(s).check_ip_budget(client_ip())
            if request.form.get("what") == "email":
                ss.send_email_link(verifier(s), participant)
                flash("Er is een nieuwe bevestigingslink naar uw e-mailadres gestuurd.", "info")
            else:
                phone = _own_phone(participant, request.form.get("phone_id"))
                method = Method.VOICE if request.form.get("method") == "voice" else Method.SMS
                ss.send_phone_code(verifier(s), participant, phone, method)
                flash(f"Er is een nieuwe code gestuurd per {METHOD_LABELS[method]}.", "info")
        except ss.PortalError as exc:
            flash(str(exc), "error")
        except RateLimited:
            flash(RATE_LIMITED, "error")
        except VerificationError as exc:
            log_event(log, "portal.send_failed", logging.ERROR, error=str(exc))
            flash("Het versturen van de code lukte niet. Probeer het later opnieuw.", "error")
    return redirect(url_for("signup.verify"))


@bp.get("/aanmelden/bevestig/<token>")
def confirm_email(token: str):
    with current_db().transaction() as s:
        record = verifier(s).redeem_link(token[:100])
        ok = record is not None and record.purpose == Purpose.EMAIL.value
    return render_template("signup/email_confirmed.html", ok=ok), (200 if ok else 400)


@bp.get("/aanmelden/gemeente/<name>")
def recruitment(name: str):
    """A printable, shareable sign-up page for one municipality, with its figures."""

    with current_db().session() as s:
        rows = coverage(s, name[:120])
    if not rows:
        abort(404, "Deze gemeente is onbekend.")
    row = rows[0]
    link = current_settings().portal.public_base_url.rstrip("/") + url_for(
        "signup.form", gemeente=row.municipality
    )
    return render_template("signup/recruitment.html", row=row, link=link)
