from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Participant, PhoneKind, PhoneNumber, VerificationCode
from participants.verification import CheckResult, Method, Purpose, RateLimited, hash_secret


def make_participant(s, number="+31612345678", email="a@example.nl"):
    p = Participant(name="Anna de Vries", birth_year=1980, email=email, channels=["sms"],
                    phones=[PhoneNumber(e164=number, kind=PhoneKind.MOBILE)])
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
        assert verifier_for(s).check(p.id, Purpose.PHONE, "+31612345678", issued.secret) is CheckResult.EXPIRED
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
        assert verifier_for(s).check(pid, Purpose.PHONE, "+31612345678", issued.secret) is CheckResult.TOO_MANY_ATTEMPTS
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
        assert verifier_for(s).check(p.id, Purpose.PHONE, "+31152345678", issued.secret) is CheckResult.EXPIRED
        phones = {x.e164: x.verified for x in s.scalars(select(PhoneNumber))}
        assert phones == {"+31612345678": False, "+31152345678": False}


class RecordingBackend:
    name = "recorder"

    def __init__(self):
        self.requests = []

    def originate(self, request):
        self.requests.append(request)
        return f"REC-{request.delivery_id}"


class RecordingSender:
    def __init__(self, channel):
        self.channel = channel
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def test_port_courier_speaks_the_code_in_a_call_and_texts_it(db, clock, policy):
    from db.models import Delivery, DeliveryKind, DeliveryState
    from participants.verification import PortCourier, VerificationService

    backend, sms, email = RecordingBackend(), RecordingSender("sms"), RecordingSender("email")
    courier = PortCourier(sms=sms, email=email, call_backend=backend, caller_id="0343529850",
                          public_base_url="https://burgernet.example/", clock=clock)
    with db.transaction() as s:
        p = make_participant(s)
        p.phones.append(PhoneNumber(e164="+31152345678", kind=PhoneKind.LANDLINE))
        s.flush()
        v = VerificationService(s, clock, policy, "k" * 32, courier)
        voice = v.issue(p, Purpose.PHONE, "+31152345678", Method.VOICE)
        text = v.issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        link = v.issue(p, Purpose.EMAIL, "a@example.nl", Method.EMAIL)
        request = backend.requests[0]
        assert (request.flow, request.number, request.caller_id) == ("verification", "+31152345678", "0343529850")
        assert " ".join(voice.secret) in request.variables["text"]
        delivery = s.get(Delivery, request.delivery_id)
        assert (delivery.kind, delivery.state, delivery.action_id) == (DeliveryKind.VERIFICATION, DeliveryState.DIALING, None)
        assert delivery.provider_id == f"REC-{delivery.id}" and delivery.last_attempt_at == clock.now()
        assert text.secret in sms.sent[0].text and sms.sent[0].to == "+31612345678"
        assert email.sent[0].subject.startswith("Bevestig")
        assert f"https://burgernet.example/aanmelden/bevestig/{link.secret}" in email.sent[0].text
