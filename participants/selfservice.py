"""What a participant does for themselves: sign up, log in, keep their data right, pause,
leave, see everything held about them, and delete their account.

The web layer (web/signup.py, web/selfservice.py) only parses forms and renders pages; the
rules live here. Functions take the session and a clock; the caller commits.
Phone parsing and geocoding come from the participants core and are passed in, so these
rules are testable on their own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from config.clock import Clock
from config.local_time import start_of_day
from config.local_time import today as local_today
from config.logging import log_event
from config.settings import ParticipantPortalSettings
from db.database import rows_changed
from db.models import (
    Address,
    AddressKind,
    AuditEvent,
    Channel,
    Delivery,
    DeliveryEvent,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
    Sighting,
    VerificationCode,
)
from evaluation.aggregates import freeze_actions
from participants.verification import CheckResult, Method, Purpose, RateLimited, VerificationService

log = logging.getLogger(__name__)

# Parses a number typed by a participant: returns (E.164, kind) or raises ValueError/an error
# with a clear message (participants.phones.parse_participant_phone in the app).
PhoneParser = Callable[[str], tuple[str, PhoneKind]]
# Fills lat/lon/municipality/geocode_status of an Address in place (participants.geocoding).
AddressGeocoder = Callable[[Session, Address], None]

POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s*([A-Za-z]{2})\s*$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_PAUSE_DAYS = 366


class PortalError(Exception):
    """A participant's request that breaks a rule; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- input ---------------------------------------------------------------------------------


@dataclass
class AddressInput:
    kind: AddressKind
    postcode: str
    house_number: str | int
    addition: str = ""
    # Weekly window: bitmask Monday = 1 ... Sunday = 64, minutes of the local day.
    window_days: int | None = None
    window_start_min: int | None = None
    window_end_min: int | None = None


@dataclass
class SignUpInput:
    name: str
    birth_year: str | int
    email: str = ""
    phones: list[str] = field(default_factory=list)
    addresses: list[AddressInput] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    consent: bool = False


def normalise_postcode(raw: str) -> str:
    match = POSTCODE.match(raw or "")
    if not match:
        raise PortalError("Vul een geldige postcode in, bijvoorbeeld 2611 AB.", "postcode")
    return match.group(1) + match.group(2).upper()


def normalise_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if email and not EMAIL.match(email):
        raise PortalError("Dit e-mailadres is niet geldig.", "email")
    return email


def check_birth_year(raw: str | int, today: date, min_age: int) -> int:
    try:
        year = int(str(raw).strip())
    except ValueError:
        raise PortalError("Vul uw geboortejaar in met vier cijfers.", "birth_year") from None
    if year < 1900 or year > today.year:
        raise PortalError("Dit geboortejaar is niet mogelijk.", "birth_year")
    # Only the year is asked: whoever turns `min_age` this year may join.
    if today.year - year < min_age:
        raise PortalError(f"U moet {min_age} jaar of ouder zijn om mee te doen.", "birth_year")
    return year


def check_window(a: AddressInput) -> None:
    days, start, end = a.window_days, a.window_start_min, a.window_end_min
    if days is None and start is None and end is None:
        return
    if days is None or start is None or end is None:
        raise PortalError("Vul bij een tijdvenster de dagen, de begintijd en de eindtijd in.", "window")
    if not 1 <= days <= 127:
        raise PortalError("Kies ten minste één dag voor het tijdvenster.", "window")
    if not (0 <= start < end <= 24 * 60):
        raise PortalError("De begintijd van het tijdvenster moet voor de eindtijd liggen.", "window")


def check_channels(channels: list[str], has_phone: bool, has_mobile: bool, has_email: bool) -> list[str]:
    known = {c.value for c in Channel}
    chosen = []
    for c in channels:
        if c not in known:
            raise PortalError(f"Onbekend kanaal: {c}.", "channels")
        if c not in chosen:
            chosen.append(c)
    if not chosen:
        raise PortalError("Kies hoe u gewaarschuwd wilt worden: telefoon, sms of e-mail.", "channels")
    if Channel.VOICE.value in chosen and not has_phone:
        raise PortalError("Voor een telefoonoproep is een telefoonnummer nodig.", "channels")
    if Channel.SMS.value in chosen and not has_mobile:
        raise PortalError("Voor sms is een mobiel nummer (06) nodig.", "channels")
    if Channel.EMAIL.value in chosen and not has_email:
        raise PortalError("Voor e-mail is een e-mailadres nodig.", "channels")
    return chosen


def parse_phones(raw_numbers: list[str], parse_phone: PhoneParser) -> list[tuple[str, PhoneKind]]:
    parsed: list[tuple[str, PhoneKind]] = []
    for raw in raw_numbers:
        if not (raw or "").strip():
            continue
        try:
            e164, kind = parse_phone(raw)
        except Exception as exc:  # the parser's own error carries the reason
            raise PortalError(f"Telefoonnummer {raw.strip()!r} is niet bruikbaar: {exc}", "phones") from exc
        if e164 not in [p for p, _ in parsed]:
            parsed.append((e164, PhoneKind(kind)))
    return parsed


def build_address(a: AddressInput) -> Address:
    check_window(a)
    try:
        number = int(str(a.house_number).strip())
    except ValueError:
        raise PortalError("Vul een huisnummer in (alleen cijfers).", "house_number") from None
    if not 1 <= number <= 99999:
        raise PortalError("Dit huisnummer is niet mogelijk.", "house_number")
    addition = (a.addition or "").strip().upper()[:10]
    return Address(
        kind=AddressKind(a.kind),
        postcode=normalise_postcode(a.postcode),
        house_number=number,
        house_number_addition=addition,
        window_days=a.window_days,
        window_start_min=a.window_start_min,
        window_end_min=a.window_end_min,
    )


# --- sign-up ------------------------------------------------------------------------------


def sign_up(
    session: Session,
    clock: Clock,
    policy: ParticipantPortalSettings,
    data: SignUpInput,
    parse_phone: PhoneParser,
    geocode: AddressGeocoder,
) -> Participant:
    """Register a participant. Phones and email stay unverified (and unused) until proven."""
    now = clock.now()
    name = " ".join((data.name or "").split())
    if not name:
        raise PortalError("Vul uw naam in.", "name")
    if len(name) > 200:
        raise PortalError("Uw naam is te lang (hoogstens 200 tekens).", "name")
    birth_year = check_birth_year(data.birth_year, now.date(), policy.min_age)
    if not data.consent:
        raise PortalError("U kunt alleen meedoen als u akkoord gaat met de voorwaarden.", "consent")
    email = normalise_email(data.email)
    phones = parse_phones(data.phones, parse_phone)
    if not data.addresses:
        raise PortalError("Vul ten minste één adres in.", "postcode")
    addresses = [build_address(a) for a in data.addresses]
    channels = check_channels(
        data.channels,
        has_phone=bool(phones),
        has_mobile=any(k is PhoneKind.MOBILE for _, k in phones),
        has_email=bool(email),
    )
    participant = Participant(
        name=name,
        birth_year=birth_year,
        email=email or None,
        email_verified=False,
        channels=channels,
        status=ParticipantStatus.ACTIVE,
        source="signup",
        consent_at=now,
        addresses=addresses,
        phones=[PhoneNumber(e164=e, kind=k, verified=False) for e, k in phones],
    )
    session.add(participant)
    session.flush()
    for address in participant.addresses:
        geocode(session, address)
    _audit(session, clock, participant, "participant.signed_up")
    log_event(log, "portal.signed_up", participant=participant.id, phones=len(phones))
    return participant


def default_method(phone: PhoneNumber) -> Method:
    """A code goes to a mobile by SMS and to a landline by a voice call."""
    return Method.SMS if PhoneKind(phone.kind) is PhoneKind.MOBILE else Method.VOICE


def send_phone_code(
    verifier: VerificationService, participant: Participant, phone: PhoneNumber, method: Method | None = None
) -> None:
    method = method or default_method(phone)
    if method is Method.SMS and PhoneKind(phone.kind) is not PhoneKind.MOBILE:
        raise PortalError("Een sms kan alleen naar een mobiel nummer; kies een telefoonoproep.", "method")
    if method is Method.EMAIL:
        raise PortalError("Een telefoonnummer bevestigt u met een sms of een oproep.", "method")
    verifier.issue(participant, Purpose.PHONE, phone.e164, method)


def send_email_link(verifier: VerificationService, participant: Participant) -> None:
    if participant.email and not participant.email_verified:
        verifier.issue(participant, Purpose.EMAIL, participant.email, Method.EMAIL)


# --- log-in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginChallenge:
    """Where the code would go. The same answer comes whether or not anyone is registered."""

    target: str
    by_link: bool


def request_login(
    session: Session,
    verifier: VerificationService,
    identifier: str,
    ip: str | None,
    parse_phone: PhoneParser,
) -> LoginChallenge:
    """Send a log-in code (mobile: SMS, landline: call) or link (email) if the identifier
    belongs to a verified contact point. Raises RateLimited only for the IP budget."""
    verifier.check_ip_budget(ip)
    identifier = (identifier or "").strip()
    if "@" in identifier:
        target = normalise_email(identifier)
        owner = session.scalars(
            select(Participant)
            .where(Participant.email == target, Participant.email_verified.is_(True))
            .order_by(Participant.id.desc())
        ).first()
        method = Method.EMAIL
    else:
        target, _kind = parse_phones([identifier], parse_phone)[0] if identifier else ("", None)
        if not target:
            raise PortalError("Vul uw telefoonnummer of e-mailadres in.", "identifier")
        phone = session.scalars(
            select(PhoneNumber)
            .where(PhoneNumber.e164 == target, PhoneNumber.verified.is_(True))
            .order_by(PhoneNumber.participant_id.desc())
        ).first()
        owner = phone.participant if phone else None
        method = default_method(phone) if phone else Method.SMS
    if owner is not None:
        try:
            verifier.issue(owner, Purpose.LOGIN, target, method)
        except RateLimited:
            pass  # answer as if sent: telling would reveal that the number is registered
    return LoginChallenge(target=target, by_link=method is Method.EMAIL)


def complete_login(verifier: VerificationService, session: Session, target: str, code: str) -> int | None:
    """Check a log-in code typed for `target`. Returns the participant id, or None.
    A number shared by several participants (a family's landline) logs in the newest one."""
    owner_id = session.scalar(
        select(VerificationCode.participant_id)
        .where(
            VerificationCode.purpose == Purpose.LOGIN.value,
            VerificationCode.target == target,
            VerificationCode.used_at.is_(None),
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )
    if owner_id is None:
        return None
    result = verifier.check(owner_id, Purpose.LOGIN, target, code)
    return owner_id if result is CheckResult.VERIFIED else None


# --- keeping data right -------------------------------------------------------------------


def update_details(
    session: Session,
    clock: Clock,
    participant: Participant,
    *,
    name: str,
    email: str,
    channels: list[str],
) -> bool:
    """Change name, email and channels. Returns True when a new email needs confirming."""
    clean_name = " ".join((name or "").split())
    if not clean_name or len(clean_name) > 200:
        raise PortalError("Vul uw naam in (hoogstens 200 tekens).", "name")
    new_email = normalise_email(email)
    phones = list(participant.phones)
    chosen = check_channels(
        channels,
        has_phone=bool(phones),
        has_mobile=any(PhoneKind(p.kind) is PhoneKind.MOBILE for p in phones),
        has_email=bool(new_email),
    )
    email_changed = (participant.email or "") != new_email
    participant.name = clean_name
    participant.channels = chosen
    if email_changed:
        participant.email = new_email or None
        participant.email_verified = False
    _audit(session, clock, participant, "participant.details_changed", email_changed=email_changed)
    return email_changed and bool(new_email)


def add_phone(
    session: Session, clock: Clock, participant: Participant, raw: str, parse_phone: PhoneParser
) -> PhoneNumber:
    e164, kind = parse_phones([raw], parse_phone)[0] if (raw or "").strip() else ("", None)
    if not e164:
        raise PortalError("Vul een telefoonnummer in.", "phone")
    existing = next((p for p in participant.phones if p.e164 == e164), None)
    if existing is not None:
        return existing
    phone = PhoneNumber(e164=e164, kind=kind, verified=False)
    participant.phones.append(phone)
    session.flush()
    _audit(session, clock, participant, "participant.phone_added")
    return phone


def remove_phone(session: Session, clock: Clock, participant: Participant, phone_id: int) -> None:
    phone = next((p for p in participant.phones if p.id == phone_id), None)
    if phone is None:
        raise PortalError("Dit telefoonnummer hoort niet bij uw aanmelding.", "phone")
    remaining = [p for p in participant.phones if p.id != phone_id]
    uses_phone = {Channel.VOICE.value, Channel.SMS.value} & set(participant.channels)
    if uses_phone and not remaining:
        raise PortalError(
            "Dit is uw laatste telefoonnummer. Kies eerst alleen e-mail, of voeg een ander nummer toe.",
            "phone",
        )
    participant.phones.remove(phone)
    if Channel.SMS.value in participant.channels and not any(
        PhoneKind(p.kind) is PhoneKind.MOBILE for p in remaining
    ):
        left = [c for c in participant.channels if c != Channel.SMS.value]
        participant.channels = left or [Channel.VOICE.value]  # a landline is left: call it
    _audit(session, clock, participant, "participant.phone_removed")


def add_address(
    session: Session, clock: Clock, participant: Participant, data: AddressInput, geocode: AddressGeocoder
) -> Address:
    address = build_address(data)
    participant.addresses.append(address)
    session.flush()
    geocode(session, address)
    _audit(session, clock, participant, "participant.address_added")
    return address


def remove_address(session: Session, clock: Clock, participant: Participant, address_id: int) -> None:
    address = next((a for a in participant.addresses if a.id == address_id), None)
    if address is None:
        raise PortalError("Dit adres hoort niet bij uw aanmelding.", "address")
    if len(participant.addresses) == 1:
        raise PortalError("U heeft ten minste één adres nodig. Wilt u stoppen? Meld u dan af.", "address")
    participant.addresses.remove(address)
    _audit(session, clock, participant, "participant.address_removed")


# --- pause, opt out, rejoin ---------------------------------------------------------------


def pause(session: Session, clock: Clock, participant: Participant, until: date, tz: str) -> datetime:
    """No alerts until the start of `until` (local date). Returns that moment in UTC."""
    now_day = local_today(clock.now(), tz)
    if until <= now_day:
        raise PortalError("Kies een datum na vandaag.", "until")
    if until > now_day + timedelta(days=MAX_PAUSE_DAYS):
        raise PortalError("U kunt hoogstens een jaar pauzeren.", "until")
    resume_at = start_of_day(until, tz)
    participant.status = ParticipantStatus.PAUSED
    participant.paused_until = resume_at
    _audit(session, clock, participant, "participant.paused", until=until.isoformat())
    return resume_at


def resume(session: Session, clock: Clock, participant: Participant) -> None:
    participant.status = ParticipantStatus.ACTIVE
    participant.paused_until = None
    _audit(session, clock, participant, "participant.resumed")


def end_expired_pauses(session: Session, clock: Clock) -> int:
    """Set paused participants whose date has come back to active (nightly housekeeping)."""
    return rows_changed(
        session,
        update(Participant)
        .where(Participant.status == ParticipantStatus.PAUSED)
        .where(Participant.paused_until.is_not(None), Participant.paused_until <= clock.now())
        .values(status=ParticipantStatus.ACTIVE, paused_until=None),
    )


def opt_out(session: Session, clock: Clock, participant: Participant) -> None:
    participant.status = ParticipantStatus.OPTED_OUT
    participant.paused_until = None
    _audit(session, clock, participant, "participant.opted_out")


# --- the right of access and the right to erasure -----------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_data(session: Session, participant: Participant) -> dict:
    """Everything held about one participant, as plain JSON-ready data."""
    deliveries = session.scalars(
        select(Delivery).where(Delivery.participant_id == participant.id).order_by(Delivery.id)
    ).all()
    sightings = session.scalars(
        select(Sighting).where(Sighting.participant_id == participant.id).order_by(Sighting.id)
    ).all()
    codes = session.scalars(
        select(VerificationCode)
        .where(VerificationCode.participant_id == participant.id)
        .order_by(VerificationCode.id)
    ).all()
    audit = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == "participant", AuditEvent.target_id == participant.id)
        .order_by(AuditEvent.id)
    ).all()
    return {
        "deelnemer": {
            "id": participant.id,
            "naam": participant.name,
            "geboortejaar": participant.birth_year,
            "email": participant.email,
            "email_bevestigd": participant.email_verified,
            "kanalen": list(participant.channels or []),
            "status": ParticipantStatus(participant.status).value,
            "gepauzeerd_tot": _iso(participant.paused_until),
            "bron": participant.source,
            "toestemming_op": _iso(participant.consent_at),
            "aangemaakt_op": _iso(participant.created_at),
            "gewijzigd_op": _iso(participant.updated_at),
        },
        "adressen": [
            {
                "soort": AddressKind(a.kind).value,
                "postcode": a.postcode,
                "huisnummer": a.house_number,
                "toevoeging": a.house_number_addition,
                "straat": a.street,
                "gemeente": a.municipality,
                "lat": a.lat,
                "lon": a.lon,
                "tijdvenster": None
                if a.window_days is None
                else {"dagen": a.window_days, "van_min": a.window_start_min, "tot_min": a.window_end_min},
            }
            for a in participant.addresses
        ],
        "telefoonnummers": [
            {
                "nummer": p.e164,
                "soort": PhoneKind(p.kind).value,
                "bevestigd": p.verified,
                "bevestigd_op": _iso(p.verified_at),
            }
            for p in participant.phones
        ],
        "berichten": [
            {
                "actie": d.action_id,
                "soort": d.kind.value if hasattr(d.kind, "value") else d.kind,
                "kanaal": d.channel.value if hasattr(d.channel, "value") else d.channel,
                "naar": d.target,
                "status": d.state.value if hasattr(d.state, "value") else d.state,
                "pogingen": d.attempts,
                "afstand_m": d.distance_m,
                "bevestigd": d.acknowledged,
                "menukeuzes": d.menu_choices,
                "laatste_poging": _iso(d.last_attempt_at),
                "opgenomen_op": _iso(d.answered_at),
                "afgerond_op": _iso(d.finished_at),
            }
            for d in deliveries
        ],
        "meldingen": [
            {
                "actie": s.action_id,
                "ontvangen_op": _iso(s.received_at),
                "van_nummer": s.caller_number,
                "opname_bewaard": bool(s.recording_path),
                "duur_s": s.duration_s,
            }
            for s in sightings
        ],
        "verificatiecodes": [
            {
                "doel": c.purpose,
                "naar": c.target,
                "aangemaakt_op": _iso(c.created_at),
                "gebruikt_op": _iso(c.used_at),
                "pogingen": c.attempts,
            }
            for c in codes
        ],
        "logboek": [{"op": _iso(e.at), "gebeurtenis": e.event} for e in audit],
    }


@dataclass(frozen=True)
class DeletionReport:
    participant_id: int
    deliveries_anonymised: int
    deliveries_deleted: int
    sightings_anonymised: int
    actions_frozen: int


def delete_account(session: Session, clock: Clock, participant: Participant) -> DeletionReport:
    """Remove a participant and every piece of personal data linked to them.

    Alert deliveries stay as anonymous rows (no participant, no number, no provider id) so the
    action's counts stay right; the counts of ended actions are frozen first. Verification
    calls are deleted. Sightings keep the report itself (police record, purged by retention)
    but lose the link to the person and the caller's number.
    """
    pid = participant.id
    numbers = [p.e164 for p in participant.phones]
    action_ids = session.scalars(
        select(Delivery.action_id)
        .where(Delivery.participant_id == pid, Delivery.action_id.is_not(None))
        .distinct()
    ).all()
    frozen = freeze_actions(session, [a for a in action_ids if a is not None])

    own_ids = session.scalars(select(Delivery.id).where(Delivery.participant_id == pid)).all()
    verification_ids = session.scalars(
        select(Delivery.id).where(Delivery.participant_id == pid, Delivery.action_id.is_(None))
    ).all()
    alert_ids = [i for i in own_ids if i not in set(verification_ids)]
    if verification_ids:
        session.execute(
            update(Sighting).where(Sighting.delivery_id.in_(verification_ids)).values(delivery_id=None)
        )
        session.execute(delete(DeliveryEvent).where(DeliveryEvent.delivery_id.in_(verification_ids)))
        session.execute(delete(Delivery).where(Delivery.id.in_(verification_ids)))
    if alert_ids:
        session.execute(
            update(DeliveryEvent).where(DeliveryEvent.delivery_id.in_(alert_ids)).values(detail={})
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(alert_ids))
            .values(participant_id=None, target=None, provider_id=None, distance_m=None, claimed_by=None)
        )
    sighting_filter = Sighting.participant_id == pid
    if numbers:
        sighting_filter = or_(sighting_filter, Sighting.caller_number.in_(numbers))
    sightings = rows_changed(
        session,
        update(Sighting).where(sighting_filter).values(participant_id=None, caller_number=None),
    )
    session.execute(delete(VerificationCode).where(VerificationCode.participant_id == pid))
    session.delete(participant)
    session.flush()
    session.add(
        AuditEvent(
            at=clock.now(),
            actor=f"participant:{pid}",
            event="participant.deleted",
            target_type="participant",
            target_id=pid,
            detail={},
        )
    )
    log_event(log, "portal.account_deleted", participant=pid, deliveries=len(alert_ids))
    return DeletionReport(pid, len(alert_ids), len(verification_ids), sightings, frozen)


def _audit(session: Session, clock: Clock, participant: Participant, event: str, **detail) -> None:
    """Audit without personal data: the participant's id only."""
    session.add(
        AuditEvent(
            at=clock.now(),
            actor=f"participant:{participant.id}",
            event=event,
            target_type="participant",
            target_id=participant.id,
            detail=detail,
        )
    )
