"""Verification codes: proof that a participant controls a phone number or email address.

A code is a short number (sent by SMS or spoken in a voice call) or a long link token (sent by
email). Only an HMAC of it is stored, keyed with the application secret, so a database dump
does not give the codes away. Every code expires, allows a few attempts and is single-use.

Abuse limits: a few codes per number or address per hour, and a cap on requests per IP address
(counted from the audit trail). When a limit is hit the caller gets the same answer as when a
code was sent, so nobody can find out who is registered by asking for codes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from config.clock import Clock, SystemClock
from config.logging import log_event, mask_phone
from config.settings import ParticipantPortalSettings
from db.models import (
    AuditEvent,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryState,
    Participant,
    PhoneKind,
    PhoneNumber,
    VerificationCode,
)
from deliveries.call_backend import CallRequest, OriginateError
from deliveries.message_sender import OutgoingMessage
from deliveries.states import transition

log = logging.getLogger(__name__)

ORIGINATE_ERROR = "ORIGINATE_ERROR"  # the hang-up cause of a call the backend refused


class Purpose(str, enum.Enum):
    PHONE = "phone"  # prove a phone number at sign-up or when one is added
    EMAIL = "email"  # prove an email address (by link)
    LOGIN = "login"  # log in to self-service (code by SMS, link by email)


class Method(str, enum.Enum):
    """How a code travels."""

    SMS = "sms"
    VOICE = "voice"  # a call that speaks the code
    EMAIL = "email"  # a link (and the code) by email


class CheckResult(str, enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"  # no live code: expired, used, or never sent
    TOO_MANY_ATTEMPTS = "too_many_attempts"


class VerificationError(Exception):
    """A request the verification service refuses, with the reason."""


class RateLimited(VerificationError):
    """Too many codes for one target or too many requests from one IP address."""


@dataclass(frozen=True)
class IssuedCode:
    """What was sent. `secret` is the plain code or link token; it is never stored."""

    record: VerificationCode
    secret: str
    method: Method


class CodeCourier(Protocol):
    """Carries a code to a person: composes the Dutch text and hands it to a sender."""

    def send_code(
        self,
        session: Session,
        participant: Participant,
        purpose: Purpose,
        method: Method,
        target: str,
        code: str,
        link: str | None,
    ) -> None: ...


def hash_secret(key: str, purpose: str, target: str, secret: str) -> str:
    """HMAC-SHA256 over purpose, target and the code; the key is the app's secret."""
    message = f"{purpose}\x00{target}\x00{secret}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def link_hash(key: str, token: str) -> str:
    """Link tokens are looked up by their hash alone (the target is not known from a link)."""
    return hmac.new(key.encode(), f"link\x00{token}".encode(), hashlib.sha256).hexdigest()


def new_numeric_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def spoken_code(code: str) -> str:
    """'482913' -> '4 8 2 9 1 3': text-to-speech reads the digits one by one."""
    return " ".join(code)


class VerificationService:
    """Issues and checks codes. The session's transaction is the caller's to commit."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        policy: ParticipantPortalSettings,
        key: str,
        courier: CodeCourier | None = None,
    ):
        if not key:
            raise VerificationError("a secret key is needed to hash verification codes")
        self.session = session
        self.clock = clock
        self.policy = policy
        self.key = key
        self.courier = courier

    # --- rate limits ----------------------------------------------------------------------

    def check_ip_budget(self, ip: str | None) -> None:
        """Count one request from `ip`; raise RateLimited past the hourly cap."""
        if not ip:
            return
        since = self.clock.now() - timedelta(hours=1)
        used = (
            self.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event == "portal.request", AuditEvent.ip == ip)
                .where(AuditEvent.at >= since)
            )
            or 0
        )
        if used >= self.policy.requests_per_ip_per_hour:
            log_event(log, "portal.rate_limited", scope="ip", ip=ip)
            raise RateLimited(f"more than {self.policy.requests_per_ip_per_hour} requests an hour from {ip}")
        self.session.add(
            AuditEvent(at=self.clock.now(), actor="public", event="portal.request", ip=ip, detail={})
        )

    def _target_budget_left(self, target: str) -> bool:
        since = self.clock.now() - timedelta(hours=1)
        sent = (
            self.session.scalar(
                select(func.count())
                .select_from(VerificationCode)
                .where(VerificationCode.target == target, VerificationCode.created_at >= since)
            )
            or 0
        )
        return sent < self.policy.codes_per_target_per_hour

    # --- issuing --------------------------------------------------------------------------

    def issue(self, participant: Participant, purpose: Purpose, target: str, method: Method) -> IssuedCode:
        """Create a code for `target` and send it. Earlier live codes for it stop working.

        Raises RateLimited when the target had its share of codes this hour.
        """
        if not self._target_budget_left(target):
            log_event(log, "portal.rate_limited", scope="target", target=_masked(target))
            raise RateLimited("too many codes for this number or address in the last hour")
        now = self.clock.now()
        self.session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.participant_id == participant.id,
                VerificationCode.purpose == purpose.value,
                VerificationCode.target == target,
                VerificationCode.used_at.is_(None),
                VerificationCode.expires_at > now,
            )
            .values(expires_at=now)
        )
        if method is Method.EMAIL:
            secret = secrets.token_urlsafe(32)
            code_hash = link_hash(self.key, secret)
            ttl = timedelta(minutes=self.policy.link_ttl_minutes)
        else:
            secret = new_numeric_code(self.policy.code_length)
            code_hash = hash_secret(self.key, purpose.value, target, secret)
            ttl = timedelta(minutes=self.policy.code_ttl_minutes)
        record = VerificationCode(
            participant_id=participant.id,
            purpose=purpose.value,
            target=target,
            code_hash=code_hash,
            attempts=0,
            expires_at=now + ttl,
            created_at=now,
        )
        self.session.add(record)
        self.session.flush()
        if self.courier is not None:
            link = secret if method is Method.EMAIL else None
            code = None if method is Method.EMAIL else secret
            self.courier.send_code(self.session, participant, purpose, method, target, code or "", link)
        log_event(
            log,
            "portal.code_issued",
            participant=participant.id,
            purpose=purpose.value,
            method=method.value,
            target=_masked(target),
        )
        return IssuedCode(record=record, secret=secret, method=method)

    # --- checking -------------------------------------------------------------------------

    def check(self, participant_id: int, purpose: Purpose, target: str, code: str) -> CheckResult:
        """Check a typed code. Wrong attempts are counted on the row (commit the session)."""
        now = self.clock.now()
        record = self.session.scalars(
            select(VerificationCode)
            .where(
                VerificationCode.participant_id == participant_id,
                VerificationCode.purpose == purpose.value,
                VerificationCode.target == target,
                VerificationCode.used_at.is_(None),
            )
            .order_by(VerificationCode.id.desc())
            .limit(1)
        ).first()
        if record is None or record.expires_at <= now:
            return CheckResult.EXPIRED
        if record.attempts >= self.policy.max_code_attempts:
            return CheckResult.TOO_MANY_ATTEMPTS
        record.attempts += 1
        expected = hash_secret(self.key, purpose.value, target, code.strip().replace(" ", ""))
        if not hmac.compare_digest(expected, record.code_hash):
            return (
                CheckResult.TOO_MANY_ATTEMPTS
                if record.attempts >= self.policy.max_code_attempts
                else CheckResult.WRONG
            )
        record.used_at = now
        self._mark_verified(record)
        return CheckResult.VERIFIED

    def redeem_link(self, token: str) -> VerificationCode | None:
        """Use an emailed link once. Returns the code row, or None when unknown or expired."""
        now = self.clock.now()
        record = self.session.scalars(
            select(VerificationCode).where(VerificationCode.code_hash == link_hash(self.key, token))
        ).first()
        if record is None or record.used_at is not None or record.expires_at <= now:
            return None
        record.used_at = now
        self._mark_verified(record)
        return record

    def _mark_verified(self, record: VerificationCode) -> None:
        now = self.clock.now()
        participant = self.session.get(Participant, record.participant_id)
        if participant is None:
            return
        if record.purpose in (Purpose.PHONE.value, Purpose.LOGIN.value):
            for phone in participant.phones:
                if phone.e164 == record.target and not phone.verified:
                    phone.verified = True
                    phone.verified_at = now
        if (
            record.purpose in (Purpose.EMAIL.value, Purpose.LOGIN.value)
            and participant.email
            and participant.email == record.target
        ):
            participant.email_verified = True
        log_event(log, "portal.verified", participant=participant.id, purpose=record.purpose)


def _masked(target: str) -> str:
    if "@" in target:
        name, _, domain = target.partition("@")
        return f"{name[:1]}***@{domain}"
    return mask_phone(target)


# --- the courier over the messaging and call ports ---------------------------------------


def sms_text(code: str, purpose: str) -> str:
    what = "inloggen bij Burgernet" if purpose == Purpose.LOGIN.value else "uw Burgernet-aanmelding"
    return (
        f"Uw code voor {what}: {code}. Deze code is 15 minuten geldig. Niet aangevraagd? Negeer dit bericht."
    )


def voice_text(code: str) -> str:
    spoken = spoken_code(code)
    return (
        f"Dit is Burgernet. Uw verificatiecode is: {spoken}. Ik herhaal: {spoken}. "
        "Niet aangevraagd? Dan kunt u ophangen."
    )


def email_text(link: str, purpose: str) -> tuple[str, str]:
    if purpose == Purpose.LOGIN.value:
        subject = "Inloggen bij Burgernet"
        body = (
            "U vroeg om in te loggen op uw Burgernet-pagina. Open deze link (één uur geldig):\n\n"
            f"{link}\n\nNiet aangevraagd? Negeer deze e-mail; er verandert niets."
        )
    else:
        subject = "Bevestig uw e-mailadres voor Burgernet"
        body = (
            "Bevestig uw e-mailadres voor Burgernet met deze link (één uur geldig):\n\n"
            f"{link}\n\nNiet aangemeld? Negeer deze e-mail; het adres wordt dan niet gebruikt."
        )
    return subject, body


class PortCourier:
    """Sends codes through the project's ports: MessageSender for SMS and email, CallBackend
    for a voice call that speaks the code (flow "verification", variable `code`)."""

    def __init__(
        self,
        *,
        sms=None,
        email=None,
        call_backend=None,
        caller_id: str = "",
        public_base_url: str = "",
        link_path: str = "/aanmelden/bevestig/{token}",
        login_link_path: str = "/mijn/link/{token}",
        call_timeout_s: int = 30,
        clock: Clock | None = None,
    ):

        self.clock = clock or SystemClock()
        self.sms = sms
        self.email = email
        self.call_backend = call_backend
        self.caller_id = caller_id
        self.public_base_url = public_base_url.rstrip("/")
        self.link_path = link_path
        self.login_link_path = login_link_path
        self.call_timeout_s = call_timeout_s

    def available(self) -> set[Method]:
        methods = set()
        if self.sms is not None:
            methods.add(Method.SMS)
        if self.email is not None:
            methods.add(Method.EMAIL)
        if self.call_backend is not None:
            methods.add(Method.VOICE)
        return methods

    def send_code(self, session, participant, purpose, method, target, code, link):
        purpose = Purpose(purpose).value
        if method is Method.SMS:
            if self.sms is None:
                raise VerificationError("no SMS sender configured")
            self.sms.send(OutgoingMessage(channel="sms", to=target, text=sms_text(code, purpose)))
        elif method is Method.EMAIL:
            if self.email is None:
                raise VerificationError("no email sender configured")
            path = self.login_link_path if purpose == Purpose.LOGIN.value else self.link_path
            url = self.public_base_url + path.format(token=link)
            subject, body = email_text(url, purpose)
            self.email.send(OutgoingMessage(channel="email", to=target, text=body, subject=subject))
        elif method is Method.VOICE:
            self._call(session, participant, target, code)
        else:  # pragma: no cover - the enum is closed
            raise VerificationError(f"unknown method {method}")

    def _call(self, session, participant, target, code):
        """Queue the verification call in the caller's transaction; it is placed once that
        transaction commits (see `place_call`), so nobody is called with a code that a
        rollback takes back."""
        if self.call_backend is None:
            raise VerificationError("no call backend configured")
        phone = next((p for p in participant.phones if p.e164 == target), None)
        delivery = Delivery(
            action_id=None,
            participant_id=participant.id,
            kind=DeliveryKind.VERIFICATION,
            channel=Channel.VOICE,
            target=target,
            phone_kind=phone.kind if phone else PhoneKind.MOBILE,
            # Placed by this courier, never by the dialer's queue: the dialer never sees the code.
            state=DeliveryState.QUEUED,
        )
        session.add(delivery)
        session.flush()
        request = CallRequest(
            delivery_id=delivery.id,
            number=target,
            caller_id=self.caller_id,
            timeout_s=self.call_timeout_s,
            flow="verification",
            variables={"code": spoken_code(code), "text": voice_text(code)},
        )
        _after_commit(session, lambda: self.place_call(session.get_bind(), delivery.id, request))

    def place_call(self, bind, delivery_id: int, request: CallRequest) -> bool:
        """Claim the queued verification call (queued -> dialing, committed), then originate it.

        The rule the dialer follows: the claim is a recorded transition committed before the
        call is handed to the network, and a refused originate is recorded too (dialing ->
        failed; a verification call is never retried: the participant asks for a new code).
        Returns whether the call was handed over.
        """
        backend = self.call_backend
        if backend is None:
            raise VerificationError("no call backend configured")
        backend_name = getattr(backend, "name", None)
        with Session(bind) as session, session.begin():
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.state is not DeliveryState.QUEUED:
                log_event(
                    log,
                    "portal.verification_call_skipped",
                    logging.WARNING,
                    delivery_id=delivery_id,
                    state=delivery.state.value if delivery else "missing",
                )
                return False
            delivery.attempts += 1
            delivery.last_attempt_at = self.clock.now()
            delivery.provider = backend_name
            delivery.provider_id = None
            transition(
                session,
                delivery,
                DeliveryState.DIALING,
                event="verification.claimed",
                clock=self.clock,
                provider=backend_name,
            )
        try:
            provider_id = backend.originate(request)
        except OriginateError as exc:
            with Session(bind) as session, session.begin():
                delivery = session.get(Delivery, delivery_id)
                if delivery is not None and delivery.state is DeliveryState.DIALING:
                    delivery.hangup_cause = ORIGINATE_ERROR
                    transition(
                        session,
                        delivery,
                        DeliveryState.FAILED,
                        event="call.failed",
                        clock=self.clock,
                        hangup_cause=ORIGINATE_ERROR,
                        error=str(exc)[:200],
                    )
            log_event(
                log, "portal.verification_call_failed", logging.ERROR, delivery_id=delivery_id, error=str(exc)
            )
            return False
        if provider_id:
            with Session(bind) as session, session.begin():
                session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.provider_id.is_(None))
                    .values(provider_id=provider_id)
                )
        return True


# --- calls placed once the transaction that issued their code commits ----------------------

_PENDING_CALLS = "verification.pending_calls"


def _after_commit(session: Session, place: Callable[[], object]) -> None:
    """Run `place` once the session's outermost transaction commits; forget it on rollback."""
    pending = session.info.get(_PENDING_CALLS)
    if pending is None:
        pending = session.info[_PENDING_CALLS] = []
        event.listen(session, "after_commit", _place_pending)
        event.listen(session, "after_soft_rollback", _forget_pending)
    pending.append(place)


def _place_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction may still roll back
    calls, session.info[_PENDING_CALLS] = session.info.get(_PENDING_CALLS, []), []
    for place in calls:
        try:
            place()
        except Exception as exc:  # the commit is done: log, and let the row tell the rest
            log_event(log, "portal.verification_call_error", logging.ERROR, error=repr(exc))


def _forget_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info[_PENDING_CALLS] = []


def phones_to_verify(participant: Participant) -> list[PhoneNumber]:
    return [p for p in participant.phones if not p.verified]
