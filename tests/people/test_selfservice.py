from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from people_helpers import control_room, delivery, ended_action, geocode_delft, parse_phone
from sqlalchemy import select, text

from db.models import (
    Address,
    AddressKind,
    AuditEvent,
    Channel,
    DailyAggregate,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
    Sighting,
    VerificationCode,
)
from participants import selfservice as ss
from participants.verification import Method, Purpose


def signup_input(**over) -> ss.SignUpInput:
    data = dict(
        name="  Jan   Jansen ",
        birth_year="1975",
        email="Jan@Example.nl",
        phones=["06 1234 5678", "015-2345678"],
        addresses=[
            ss.AddressInput(AddressKind.HOME, "2611 ab", "12", "a"),
            ss.AddressInput(
                AddressKind.WORK, "2628CD", 3, window_days=31, window_start_min=480, window_end_min=1080
            ),
        ],
        channels=["voice", "sms"],
        consent=True,
    )
    data.update(over)
    return ss.SignUpInput(**data)


def do_signup(s, clock, policy, **over) -> Participant:
    return ss.sign_up(s, clock, policy, signup_input(**over), parse_phone, geocode_delft)


def test_sign_up_stores_normalised_unverified_data(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        assert p.name == "Jan Jansen" and p.email == "jan@example.nl" and not p.email_verified
        assert {(x.e164, x.kind, x.verified) for x in p.phones} == {
            ("+31612345678", PhoneKind.MOBILE, False),
            ("+31152345678", PhoneKind.LANDLINE, False),
        }
        home, work = sorted(p.addresses, key=lambda a: a.kind.value)
        assert (home.postcode, home.house_number, home.house_number_addition) == ("2611AB", 12, "A")
        assert (work.window_days, work.window_start_min, work.window_end_min) == (31, 480, 1080)
        assert home.municipality == "Delft" and p.consent_at == clock.now()
        assert p.source == "signup"


@pytest.mark.parametrize(
    "over, field",
    [
        ({"name": " "}, "name"),
        ({"birth_year": "2011"}, "birth_year"),  # turns 15 in 2026
        ({"birth_year": "19x5"}, "birth_year"),
        ({"consent": False}, "consent"),
        ({"email": "not-an-address"}, "email"),
        ({"phones": ["12345"]}, "phones"),
        ({"addresses": []}, "postcode"),
        ({"addresses": [ss.AddressInput(AddressKind.HOME, "0123 AB", "1")]}, "postcode"),
        ({"addresses": [ss.AddressInput(AddressKind.HOME, "2611AB", "1", window_days=31)]}, "window"),
        (
            {
                "addresses": [
                    ss.AddressInput(
                        AddressKind.HOME,
                        "2611AB",
                        "1",
                        window_days=31,
                        window_start_min=600,
                        window_end_min=500,
                    )
                ]
            },
            "window",
        ),
        ({"channels": []}, "channels"),
        ({"channels": ["sms"], "phones": ["015-2345678"]}, "channels"),
        ({"channels": ["email"], "email": ""}, "channels"),
    ],
)
def test_sign_up_refuses_bad_input_with_a_dutch_reason(db, clock, policy, over, field):
    with db.transaction() as s:
        with pytest.raises(ss.PortalError) as err:
            do_signup(s, clock, policy, **over)
        assert err.value.field == field
        assert str(err.value)[0].isupper()


def test_sixteen_this_year_may_join(db, clock, policy):
    with db.transaction() as s:
        assert do_signup(s, clock, policy, birth_year=str(clock.now().year - 16)).birth_year == 2010


def test_login_by_code_only_for_verified_numbers_and_same_answer_for_strangers(
    db, clock, verifier_for, courier
):
    with db.transaction() as s:
        p = do_signup(s, clock, verifier_for(s).policy)
        v = verifier_for(s)
        # unverified number: nothing is sent, same answer
        unknown = ss.request_login(s, v, "06 1234 5678", "192.0.2.1", parse_phone)
        stranger = ss.request_login(s, v, "06 2345 6789", "192.0.2.1", parse_phone)
        assert courier.sent == []
        assert unknown.by_link == stranger.by_link is False
        for phone in p.phones:
            phone.verified = phone.e164 == "+31612345678"
        s.flush()
        challenge = ss.request_login(s, v, "0612345678", "192.0.2.1", parse_phone)
        sent = courier.last("+31612345678")
        assert sent["method"] is Method.SMS and sent["purpose"] is Purpose.LOGIN
        assert (
            ss.complete_login(v, s, challenge.target, "999999" if sent["code"] != "999999" else "111111")
            is None
        )
        assert ss.complete_login(v, s, challenge.target, sent["code"]) == p.id


def test_login_by_email_link(db, clock, policy, verifier_for, courier):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        p.email_verified = True
        challenge = ss.request_login(s, verifier_for(s), "JAN@example.nl", None, parse_phone)
        assert challenge.by_link
        token = courier.last("jan@example.nl")["link"]
        assert verifier_for(s).redeem_link(token).participant_id == p.id


def test_change_details_resets_email_verification_and_checks_channels(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        p.email_verified = True
        assert (
            ss.update_details(s, clock, p, name="Jan J.", email="jan@example.nl", channels=["sms"]) is False
        )
        assert p.email_verified is True
        assert (
            ss.update_details(s, clock, p, name="Jan J.", email="nieuw@example.nl", channels=["sms", "email"])
            is True
        )
        assert p.email == "nieuw@example.nl" and p.email_verified is False
        with pytest.raises(ss.PortalError):
            ss.update_details(s, clock, p, name="Jan", email="", channels=["email"])


def test_phone_and_address_changes(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy, channels=["sms"])
        added = ss.add_phone(s, clock, p, "06 2222 3333", parse_phone)
        assert added.verified is False
        mobile = next(x for x in p.phones if x.e164 == "+31612345678")
        ss.remove_phone(s, clock, p, mobile.id)
        assert p.channels == ["sms"]  # another mobile remains
        ss.remove_phone(s, clock, p, added.id)
        assert p.channels == ["voice"]  # only the landline is left: calls instead of SMS
        home = p.addresses[0]
        ss.remove_address(s, clock, p, home.id)
        with pytest.raises(ss.PortalError):
            ss.remove_address(s, clock, p, p.addresses[0].id)
        new = ss.add_address(s, clock, p, ss.AddressInput(AddressKind.HOME, "2612 XY", "5"), geocode_delft)
        assert new.postcode == "2612XY" and new.lat is not None


def test_removing_the_last_phone_is_refused_while_calls_are_wanted(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy, phones=["015-2345678"], channels=["voice"])
        with pytest.raises(ss.PortalError):
            ss.remove_phone(s, clock, p, p.phones[0].id)


def test_pause_until_a_date_and_resume_after(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        with pytest.raises(ss.PortalError):
            ss.pause(s, clock, p, clock.now().date(), "Europe/Amsterdam")
        resume_at = ss.pause(s, clock, p, date(2026, 12, 10), "Europe/Amsterdam")
        assert resume_at == datetime(2026, 12, 9, 23, 0, tzinfo=UTC)
        assert p.status is ParticipantStatus.PAUSED
        assert ss.end_expired_pauses(s, clock) == 0
        clock.advance(12 * 86400)
        assert ss.end_expired_pauses(s, clock) == 1
        s.refresh(p)
        assert p.status is ParticipantStatus.ACTIVE and p.paused_until is None


def test_opt_out(db, clock, policy):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        ss.opt_out(s, clock, p)
        assert p.status is ParticipantStatus.OPTED_OUT


def test_export_holds_everything_and_is_json(db, clock, policy, verifier_for):
    with db.transaction() as s:
        p = do_signup(s, clock, policy)
        verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        room = control_room(s)
        action = ended_action(s, room, clock.now())
        delivery(s, action, p, acknowledged=True)
        data = json.loads(json.dumps(ss.export_data(s, p)))
        assert data["deelnemer"]["naam"] == "Jan Jansen"
        assert {x["nummer"] for x in data["telefoonnummers"]} == {"+31612345678", "+31152345678"}
        assert [a["postcode"] for a in data["adressen"]] == ["2611AB", "2628CD"]
        assert data["berichten"][0]["actie"] == action.id and data["berichten"][0]["bevestigd"]
        assert data["verificatiecodes"][0]["doel"] == "phone"
        assert "code_hash" not in json.dumps(data)
        assert any(e["gebeurtenis"] == "participant.signed_up" for e in data["logboek"])


def test_deleted_participant_leaves_no_personal_data_behind(db, clock, policy, verifier_for):
    with db.transaction() as s:
        p = do_signup(s, clock, policy, name="Zeldzame Naamvoorbeeld", email="zeldzaam@example.nl")
        other = do_signup(
            s,
            clock,
            policy,
            name="Ander Persoon",
            email="ander@example.nl",
            phones=["06 5555 4444"],
            channels=["sms"],
            addresses=[ss.AddressInput(AddressKind.HOME, "2624 AA", "7")],
        )
        verifier_for(s).issue(p, Purpose.PHONE, "+31612345678", Method.SMS)
        room = control_room(s)
        action = ended_action(s, room, clock.now())
        d = delivery(s, action, p, acknowledged=True)
        delivery(s, action, p, channel=Channel.SMS, state=DeliveryState.DELIVERED)
        delivery(s, action, other, state=DeliveryState.NO_ANSWER)
        s.add(DeliveryEvent(delivery_id=d.id, event="answered", detail={"to": "+31612345678"}))
        delivery(s, None, p)  # a verification call
        s.add(
            Sighting(
                action_id=action.id,
                caller_number="+31612345678",
                participant_id=p.id,
                delivery_id=d.id,
                received_at=clock.now(),
            )
        )
        pid, action_id = p.id, action.id
        report = ss.delete_account(s, clock, p)
        assert report.deliveries_anonymised == 2 and report.deliveries_deleted == 1
        assert report.actions_frozen == 1
    with db.transaction() as s:
        assert s.get(Participant, pid) is None
        for model in (Address, PhoneNumber, VerificationCode):
            assert s.scalar(select(model).where(model.participant_id == pid)) is None
        # Scan every text column of every table for the personal data.
        needles = ["Zeldzame", "zeldzaam@example.nl", "+31612345678", "+31152345678", "2611AB"]
        dump = []
        for table in (
            "participant",
            "address",
            "phone_number",
            "verification_code",
            "delivery",
            "delivery_event",
            "sighting",
            "audit_event",
            "daily_aggregate",
        ):
            for row in s.execute(text(f"SELECT * FROM {table}")):
                dump.append(" ".join(str(v) for v in row))
        blob = "\n".join(dump)
        for needle in needles:
            assert needle not in blob, needle
        assert "Ander Persoon" in blob  # the other participant is untouched
        # the action's counts survive: 2 anonymous deliveries + the other participant's
        assert (
            s.scalar(
                select(Delivery.id).where(Delivery.action_id == action_id, Delivery.participant_id.is_(None))
            )
            is not None
        )
        rows = {
            (r.channel, r.phone_kind): (r.recipients, r.reached, r.acknowledged)
            for r in s.scalars(select(DailyAggregate).where(DailyAggregate.action_id == action_id))
        }
        assert rows[("all", "")] == (2, 1, 1)
        assert rows[("voice", "mobile")] == (2, 1, 1)
        assert rows[("sms", "mobile")] == (1, 1, 0)
        assert s.scalar(select(Sighting.id).where(Sighting.action_id == action_id)) is not None
        assert s.scalar(select(AuditEvent).where(AuditEvent.event == "participant.deleted")).target_id == pid
