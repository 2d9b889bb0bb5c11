"""Text messages sent TO the platform's SMS number: opt-out, and sign-up by keyword.

In the style of the old SMS Alert service, a resident can join by text message:

    BURGERNET 2611AB 12 1980        keyword, postcode, house number (+ addition), birth year

creates an SMS-only participant (source "sms") whose number is not yet verified, so the
selection does not text it yet. The reply carries a code; answering `JA <code>` proves the
number is theirs and verifies it. `STOP` and its Dutch equivalents (STOPPEN, AFMELDEN,
UITSCHRIJVEN, ...) opt the sender out of everything: the participant's status becomes
opted_out (audited) and messages still queued for that number are not sent.

`parse_inbound` is pure; `handle_inbound_sms` applies a command to the database and returns
the Dutch reply (the caller commits).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.clock import Clock
from config.logging import log_event, mask_phone
from config.settings import Settings
from db.audit import record_audit
from db.models import (
    Address,
    AddressKind,
    Channel,
    Delivery,
    DeliveryState,
    GazetteerAddress,
    GeocodeStatus,
    Participant,
    ParticipantStatus,
    PhoneNumber,
)
from deliveries.states import transition
from participants.phones import InvalidPhoneNumber, ParsedPhone, parse_participant_phone
from participants.verification import CheckResult, Method, Purpose, RateLimited, VerificationService

log = logging.getLogger(__name__)

STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPPEN",
        "STOP BURGERNET",
        "STOP ALLES",
        "STOPALL",
        "AFMELDEN",
        "AFMELDING",
        "UITSCHRIJVEN",
        "UITSCHRIJVING",
        "UIT",
        "OPZEGGEN",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
    }
)

_POSTCODE = re.compile(r"^([1-9]\d{3})\s?([A-Z]{2})$")
_HOUSE = re.compile(r"^(\d{1,5})(?:[-/]?([A-Z0-9]{1,4}))?$")
_CODE = re.compile(r"^(?:JA|CODE)\s+(\d{4,8})$")

SIGNUP_HELP = (
    "Aanmelden bij Burgernet? Stuur: {kw} postcode huisnummer geboortejaar, bijvoorbeeld {kw} 2611AB 12 1980."
)


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class SignUp:
    postcode: str  # normalised "2611AB"
    house_number: int
    addition: str
    birth_year: int


@dataclass(frozen=True)
class ConfirmCode:
    code: str


@dataclass(frozen=True)
class Invalid:
    """A message we understood as an attempt but cannot use; `reply` says why, in Dutch."""

    reply: str


@dataclass(frozen=True)
class Unknown:
    pass


Command = Stop | SignUp | ConfirmCode | Invalid | Unknown


def _normalise(body: str) -> str:
    # "Stop?" and "stop." are answers to the footer "Stop? Sms STOP naar ...".
    return re.sub(r"\s+", " ", body.strip().upper().strip(".!? "))


def parse_inbound(body: str, keyword: str, now_year: int, min_age: int = 16) -> Command:
    text = _normalise(body or "")
    keyword = keyword.upper()
    if text in STOP_WORDS:
        return Stop()
    match = _CODE.match(text)
    if match:
        return ConfirmCode(match.group(1))
    if text != keyword and not text.startswith(keyword + " "):
        return Unknown()
    help_text = SIGNUP_HELP.format(kw=keyword)
    words = text[len(keyword) :].split()
    # "2611 AB" arrives as two words: join a 4-digit word with a following 2-letter word.
    if len(words) >= 2 and re.fullmatch(r"\d{4}", words[0]) and re.fullmatch(r"[A-Z]{2}", words[1]):
        words = [words[0] + words[1], *words[2:]]
    if len(words) == 4 and re.fullmatch(r"[A-Z0-9]{1,4}", words[2]) and not re.fullmatch(r"\d{4}", words[2]):
        words = [words[0], words[1] + words[2], words[3]]  # "12 A 1980" -> "12A 1980"
    if len(words) != 3:
        return Invalid(help_text)
    postcode_raw, house_raw, year_raw = words
    postcode = _POSTCODE.match(postcode_raw)
    if not postcode:
        return Invalid(f"De postcode {postcode_raw} is niet geldig. {help_text}")
    house = _HOUSE.match(house_raw)
    if not house:
        return Invalid(f"Het huisnummer {house_raw} is niet geldig. {help_text}")
    if not re.fullmatch(r"\d{4}", year_raw) or not 1900 <= int(year_raw) <= now_year:
        return Invalid(f"Het geboortejaar {year_raw} is niet geldig. {help_text}")
    if now_year - int(year_raw) < min_age:
        return Invalid(f"Voor Burgernet moet u minimaal {min_age} jaar oud zijn.")
    return SignUp(
        postcode=postcode.group(1) + postcode.group(2),
        house_number=int(house.group(1)),
        addition=house.group(2) or "",
        birth_year=int(year_raw),
    )


# --- applying a command -----------------------------------------------------------------


def _participants_with_number(session: Session, e164: str) -> list[Participant]:
    return list(
        session.scalars(
            select(Participant).join(PhoneNumber).where(PhoneNumber.e164 == e164).order_by(Participant.id)
        ).unique()
    )


def opt_out_number(session: Session, e164: str, clock: Clock) -> int:
    """Opt out every participant with this number; cancel what is still queued for it."""

    changed = 0
    for participant in _participants_with_number(session, e164):
        if participant.status is ParticipantStatus.OPTED_OUT:
            continue
        previous = participant.status.value
        participant.status = ParticipantStatus.OPTED_OUT
        record_audit(
            session,
            "participant.opted_out",
            actor=f"participant:{participant.id}",
            target_type="participant",
            target_id=participant.id,
            via="sms",
            previous_status=previous,
        )
        changed += 1
    waiting = session.scalars(
        select(Delivery).where(
            Delivery.target == e164, Delivery.state.in_([DeliveryState.QUEUED, DeliveryState.HELD])
        )
    ).all()
    for delivery in waiting:
        transition(session, delivery, DeliveryState.OPTED_OUT, event="sms_stop", clock=clock)
    log_event(log, "sms.opt_out", number=mask_phone(e164), participants=changed, deliveries=len(waiting))
    return changed


def _geocode(session: Session, address: Address) -> None:
    """Coordinates from the local gazetteer when it knows the address; else left pending for
    the participants' geocoder."""
    row = session.scalars(
        select(GazetteerAddress).where(
            GazetteerAddress.postcode == address.postcode,
            GazetteerAddress.house_number == address.house_number,
            GazetteerAddress.house_number_addition == address.house_number_addition,
        )
    ).first()
    if row is not None:
        address.lat, address.lon = row.lat, row.lon
        address.street, address.municipality = row.street, row.municipality
        address.geocode_status = GeocodeStatus.OK


def _verification(session: Session, clock: Clock, settings: Settings, secret_key: str):
    return VerificationService(session, clock, settings.portal, secret_key)


def sign_up_by_sms(
    session: Session, sender: ParsedPhone, command: SignUp, clock: Clock, settings: Settings, secret_key: str
) -> str:
    e164 = sender.e164
    existing = _participants_with_number(session, e164)
    verified = [person for person in existing if any(p.e164 == e164 and p.verified for p in person.phones)]
    if any(person.status is not ParticipantStatus.OPTED_OUT for person in verified):
        return (
            "Dit nummer is al aangemeld bij Burgernet. Wijzigen of afmelden kan via de "
            "website; stuur STOP om geen berichten meer te ontvangen."
        )
    if verified:
        # Opted out earlier: coming back needs the code, like a new sign-up.
        try:
            issued = _verification(session, clock, settings, secret_key).issue(
                verified[-1], Purpose.PHONE, e164, Method.SMS
            )
        except RateLimited:
            return "U heeft te vaak een code aangevraagd. Probeer het over een uur opnieuw."
        return f"U was afgemeld bij Burgernet. Wilt u weer meedoen? Stuur JA {issued.secret} naar dit nummer."
    now = clock.now()
    participant = next((p for p in existing if p.source == "sms"), None)
    if participant is None:
        participant = Participant(
            name="SMS-deelnemer",
            birth_year=command.birth_year,
            channels=[Channel.SMS.value],
            source="sms",
            consent_at=now,
            status=ParticipantStatus.ACTIVE,
        )
        participant.phones.append(PhoneNumber(e164=e164, kind=sender.kind, verified=False))
        session.add(participant)
    participant.birth_year = command.birth_year
    participant.status = ParticipantStatus.ACTIVE
    participant.addresses.clear()
    address = Address(
        kind=AddressKind.HOME,
        postcode=command.postcode,
        house_number=command.house_number,
        house_number_addition=command.addition,
    )
    participant.addresses.append(address)
    session.flush()
    _geocode(session, address)
    record_audit(
        session,
        "participant.signed_up",
        actor=f"participant:{participant.id}",
        target_type="participant",
        target_id=participant.id,
        via="sms",
        postcode=command.postcode,
    )
    try:
        issued = _verification(session, clock, settings, secret_key).issue(
            participant, Purpose.PHONE, e164, Method.SMS
        )
    except RateLimited:
        return "U heeft te vaak een code aangevraagd. Probeer het over een uur opnieuw."
    log_event(log, "sms.signed_up", participant_id=participant.id, number=mask_phone(e164))
    return (
        f"Welkom bij Burgernet. Bevestig uw aanmelding voor {command.postcode} "
        f"{command.house_number}{command.addition}: stuur JA {issued.secret} naar dit nummer."
    )


def confirm_code(
    session: Session, e164: str, command: ConfirmCode, clock: Clock, settings: Settings, secret_key: str
) -> str:

    pending = [
        p
        for p in _participants_with_number(session, e164)
        if p.status is ParticipantStatus.OPTED_OUT
        or any(ph.e164 == e164 and not ph.verified for ph in p.phones)
    ]
    if not pending:
        return "Er is geen aanmelding die op bevestiging wacht voor dit nummer."
    participant = pending[-1]
    service = _verification(session, clock, settings, secret_key)
    result = service.check(participant.id, Purpose.PHONE, e164, command.code)
    if result is CheckResult.VERIFIED:
        if participant.status is ParticipantStatus.OPTED_OUT:
            participant.status = ParticipantStatus.ACTIVE
            record_audit(
                session,
                "participant.opted_in",
                actor=f"participant:{participant.id}",
                target_type="participant",
                target_id=participant.id,
                via="sms",
            )
        log_event(log, "sms.verified", participant_id=participant.id)
        return (
            "Uw aanmelding bij Burgernet is bevestigd. U ontvangt voortaan een sms bij een "
            "actie in uw buurt. Stuur STOP om u af te melden."
        )
    if result is CheckResult.WRONG:
        return "Deze code klopt niet. Controleer de code en probeer het opnieuw."
    return "Deze code is verlopen of te vaak geprobeerd. Meld u opnieuw aan om een nieuwe code te krijgen."


def sender_number(from_number: str, region: str) -> ParsedPhone | None:
    """The sender's number as a participant's phone (participants.phones); None for what is no
    number a person answers (an alphanumeric sender, a short code, a premium number, garbage)."""
    try:
        return parse_participant_phone(from_number, region)
    except InvalidPhoneNumber:  # its message quotes the raw number: not logged
        log_event(log, "sms.sender_refused", logging.WARNING, number=mask_phone(from_number))
        return None


def handle_inbound_sms(
    session: Session, from_number: str, body: str, clock: Clock, settings: Settings, secret_key: str
) -> str | None:
    """Apply one inbound text; returns the Dutch reply (None: no reply). A sender that is no
    valid participant's number is refused: nothing is stored and nothing is answered."""
    sender = sender_number(from_number, settings.default_region)
    if sender is None:
        return None
    now: datetime = clock.now()
    command = parse_inbound(body, settings.twilio.sms_keyword, now.year, settings.portal.min_age)
    if isinstance(command, Stop):
        opt_out_number(session, sender.e164, clock)
        return (
            "U bent afgemeld bij Burgernet en ontvangt geen berichten meer. "
            "Weer aanmelden kan via de website."
        )
    if isinstance(command, SignUp):
        return sign_up_by_sms(session, sender, command, clock, settings, secret_key)
    if isinstance(command, ConfirmCode):
        return confirm_code(session, sender.e164, command, clock, settings, secret_key)
    if isinstance(command, Invalid):
        return command.reply
    return (
        "Dit nummer is van Burgernet. "
        + SIGNUP_HELP.format(kw=settings.twilio.sms_keyword.upper())
        + " Afmelden: stuur STOP. Heeft u iets gezien? Bel het nummer uit het bericht."
    )
