from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import (
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    Participant,
    PhoneKind,
    PhoneNumber,
    VerificationCode,
)
from deliveries.call_backend import OriginateError
from dialer.simulator import SimulatedNetwork
from dialer.worker import DialerWorker
from participants.verification import (
    CheckResult,
    Method,
    PortCourier,
    Purpose,
    RateLimited,
    VerificationService,
    hash_secret,
)


def make_participant(s, number="+31612345678", email="a@example.nl"):
    p = Participant(
        name="Anna de Vries",
        birth_year=1980,
        email=email,
        channels=["sms"],
        phones=[PhoneNumber(e164=number, kind=PhoneKind.MOBILE)],
    )
    s.add(p)
    s.flush()
    return p


def test_code_is_stored_hashed_and_verifies_once(db, verifier_for, courier):
    with db.transaction() as s:
        p = make_participant(s)
        issued = verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        assert issued.secret.isdigit() and len(issued.secret) == 6
        row = s.get(VerificationCode, issued.record.id)
        assert issued.secret not in row.code_hash
        assert row.code_hash == hash_secret("k" * 32, "phone", "+31612345678", issued.secret)
        assert courier.last()["code"] == issued.secret
        pid = p.id
    with db.transaction() as s:
        v = verifier_for(s)
        assert v.check(pid, Purpose.PHONE, "+31612345678", issued.secret) is CheckResult.VERIFIED
        assert s.get(Participant, pid).phones[0].verified is True
    with db.transaction() as s:
        # single use
        assert verifier_for(s).check(pid, Purpose.PHONE, "+31612345678", issued.secret) is CheckResult.EXPIRED


def test_code_expires(db, verifier_for, clock, policy):
    with db.transaction() as s:
        p = make_participant(s)
        issued = verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        clock.advance(policy.code_ttl_minutes * 60 + 1)
        assert (
            verifier_for(s).check(p.id, Purpose.PHONE, "+31612345678", issued.secret) is CheckResult.EXPIRED
        )
        assert p.phones[0].verified is False


def test_attempts_are_limited_even_for_the_right_code(db, verifier_for, policy):
    with db.transaction() as s:
        p = make_participant(s)
        issued = verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        pid = p.id
    wrong = "000000" if issued.secret != "000000" else "111111"
    results = []
    for _ in range(policy.max_code_attempts):
        with db.transaction() as s:  # each attempt commits: the count survives
            results.append(verifier_for(s).check(pid, Purpose.PHONE, "+31612345678", wrong))
    assert results[:-1] == [CheckResult.WRONG] * (policy.max_code_attempts - 1)
    assert results[-1] is CheckResult.TOO_MANY_ATTEMPTS
    with db.transaction() as s:
        assert (
            verifier_for(s).check(pid, Purpose.PHONE, "+31612345678", issued.secret)
            is CheckResult.TOO_MANY_ATTEMPTS
        )
        assert s.get(Participant, pid).phones[0].verified is False


def test_new_code_replaces_the_old_one(db, verifier_for, clock):
    with db.transaction() as s:
        p = make_participant(s)
        v = verifier_for(s)
        first = v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        second = v.issue(p, Purpose.PHONE, "+31612345678", Method.VOICE)
        if first.secret != second.secret:
            assert v.check(p.id, Purpose.PHONE, "+31612345678", first.secret) is CheckResult.WRONG
        assert v.check(p.id, Purpose.PHONE, "+31612345678", second.secret) is CheckResult.VERIFIED


def test_per_target_rate_limit_resets_after_an_hour(db, verifier_for, clock, policy):
    with db.transaction() as s:
        p = make_participant(s)
        v = verifier_for(s)
        for _ in range(policy.codes_per_target_per_hour):
            v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        with pytest.raises(RateLimited):
            v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        clock.advance(3601)
        v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)


def test_per_ip_rate_limit(db, verifier_for, clock, policy):
    with db.transaction() as s:
        v = verifier_for(s)
        for _ in range(policy.requests_per_ip_per_hour):
            v.check_ip_budget("192.0.2.7")
        with pytest.raises(RateLimited):
            v.check_ip_budget("192.0.2.7")
        v.check_ip_budget("192.0.2.8")  # another address has its own budget
        clock.advance(3601)
        v.check_ip_budget("192.0.2.7")


def test_email_link_verifies_the_address_once(db, verifier_for, clock):
    with db.transaction() as s:
        p = make_participant(s)
        issued = verifier_for(s).issue(p, Purpose.EMAIL, "a@example.nl", Method.EMAIL)
        assert len(issued.secret) >= 40
        assert verifier_for(s).redeem_link("not-a-token") is None
        record = verifier_for(s).redeem_link(issued.secret)
        assert record is not None and record.participant_id == p.id
        assert p.email_verified is True
        assert verifier_for(s).redeem_link(issued.secret) is None


def test_a_code_for_one_number_does_not_verify_another(db, verifier_for):
    with db.transaction() as s:
        p = make_participant(s)
        p.phones.append(PhoneNumber(e164="+31152345678", kind=PhoneKind.LANDLINE))
        s.flush()
        issued = verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        assert (
            verifier_for(s).check(p.id, Purpose.PHONE, "+31152345678", issued.secret) is CheckResult.EXPIRED
        )
        phones = {x.e164: x.verified for x in s.scalars(select(PhoneNumber))}
        assert phones == {"+31612345678": False, "+31152345678": False}


class RecordingBackend:
    """Records each originate, and what another process saw of its row at that moment."""

    name = "recorder"

    def __init__(self, db=None, refuse: bool = False):
        self.db = db
        self.refuse = refuse
        self.requests = []
        self.row_at_originate = []

    def originate(self, request):
        self.requests.append(request)
        if self.db is not None:
            with self.db.session() as s:
                row = s.get(Delivery, request.delivery_id)
                self.row_at_originate.append((row.state, row.attempts) if row else None)
        if self.refuse:
            raise OriginateError("trunk down")
        return f"REC-{request.delivery_id}"


class RecordingSender:
    def __init__(self, channel):
        self.channel = channel
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def events_of(db, delivery_id):
    with db.session() as s:
        return [
            tuple(row)
            for row in s.execute(
                select(DeliveryEvent.event, DeliveryEvent.from_state, DeliveryEvent.to_state)
                .where(DeliveryEvent.delivery_id == delivery_id)
                .order_by(DeliveryEvent.id)
            )
        ]


def voice_courier(backend, clock, **senders):
    return PortCourier(
        call_backend=backend,
        caller_id="0343529850",
        public_base_url="https://burgernet.example/",
        clock=clock,
        **senders,
    )


def test_port_courier_speaks_the_code_in_a_call_and_texts_it(db, clock, policy):
    backend, sms, email = RecordingBackend(db), RecordingSender("sms"), RecordingSender("email")
    courier = voice_courier(backend, clock, sms=sms, email=email)
    with db.transaction() as s:
        p = make_participant(s)
        p.phones.append(PhoneNumber(e164="+31152345678", kind=PhoneKind.LANDLINE))
        s.flush()
        v = VerificationService(s, clock, policy, "k" * 32, courier)
        voice = v.issue(p, Purpose.PHONE, "+31152345678", Method.VOICE)
        text = v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        link = v.issue(p, Purpose.EMAIL, "a@example.nl", Method.EMAIL)
        assert backend.requests == []  # not before the code is committed
        queued = s.scalars(select(Delivery)).one()
        assert (queued.kind, queued.state, queued.action_id, queued.attempts) == (
            DeliveryKind.VERIFICATION,
            DeliveryState.QUEUED,
            None,
            0,
        )
        assert text.secret in sms.sent[0].text and sms.sent[0].to == "+31612345678"
        assert email.sent[0].subject.startswith("Bevestig")
        assert f"https://burgernet.example/aanmelden/bevestig/{link.secret}" in email.sent[0].text
    (request,) = backend.requests
    assert (request.flow, request.number, request.caller_id) == ("verification", "+31152345678", "0343529850")
    assert " ".join(voice.secret) in request.variables["text"]
    # The claim was committed before the originate, as the dialer does it.
    assert backend.row_at_originate == [(DeliveryState.DIALING, 1)]
    with db.session() as s:
        delivery = s.get(Delivery, request.delivery_id)
        assert delivery.state is DeliveryState.DIALING and delivery.provider == "recorder"
        assert delivery.provider_id == f"REC-{delivery.id}" and delivery.last_attempt_at == clock.now()
    assert events_of(db, request.delivery_id) == [("verification.claimed", "queued", "dialing")]


def test_no_call_for_a_code_that_was_rolled_back(db, clock, policy):
    backend = RecordingBackend(db)
    with pytest.raises(RuntimeError), db.transaction() as s:
        p = make_participant(s, number="+31152345678")
        VerificationService(s, clock, policy, "k" * 32, voice_courier(backend, clock)).issue(
            p, Purpose.PHONE, "+31152345678", Method.VOICE
        )
        raise RuntimeError("the sign-up failed after the code was issued")
    assert backend.requests == []
    with db.session() as s:
        assert s.scalars(select(Delivery)).all() == []
        s.add(Participant(name="B", birth_year=1990, channels=["voice"]))
        s.commit()  # the same kind of session commits later: nothing left over is placed
    assert backend.requests == []


def test_a_refused_verification_call_is_a_recorded_failure(db, clock, policy, caplog):
    backend = RecordingBackend(db, refuse=True)
    with db.transaction() as s:
        p = make_participant(s, number="+31152345678")
        VerificationService(s, clock, policy, "k" * 32, voice_courier(backend, clock)).issue(
            p, Purpose.PHONE, "+31152345678", Method.VOICE
        )
    (request,) = backend.requests
    assert backend.row_at_originate == [(DeliveryState.DIALING, 1)]
    with db.session() as s:
        delivery = s.get(Delivery, request.delivery_id)
        assert (delivery.state, delivery.hangup_cause) == (DeliveryState.FAILED, "ORIGINATE_ERROR")
        assert delivery.next_attempt_at is None  # never retried: the participant asks again
        assert s.scalar(select(VerificationCode.id)) is not None  # the code stays issued
    assert events_of(db, request.delivery_id) == [
        ("verification.claimed", "queued", "dialing"),
        ("call.failed", "dialing", "failed"),
    ]
    assert "portal.verification_call_failed" in caplog.text


def test_the_dialer_never_claims_a_verification_call(db, clock, settings):
    with db.transaction() as s:
        p = make_participant(s, number="+31152345678")
        s.add(
            Delivery(
                participant_id=p.id,
                kind=DeliveryKind.VERIFICATION,
                channel=Channel.VOICE,
                target="+31152345678",
                phone_kind=PhoneKind.LANDLINE,
                state=DeliveryState.QUEUED,
            )
        )
    network = SimulatedNetwork(clock, settings.dialer.simulator, threaded=False)
    worker = DialerWorker(db, network, clock, settings, worker_id="w")
    worker.start()
    assert worker.tick().placed == 0 and network.originated == 0
