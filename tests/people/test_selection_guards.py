"""The portal's states as the wave sees them: who signs up but is not yet verified, who
pauses, opts out or leaves, is never called. Uses the real selection and wave planning."""

from __future__ import annotations

from datetime import date

import pytest
from people_helpers import RecordingCourier, control_room, geocode_delft
from sqlalchemy import select

from actions.wave import launch_wave
from db.models import Action, ActionStatus, AddressKind, Delivery, IncidentType
from participants import selfservice as ss
from participants.phones import parse_participant_phone
from participants.verification import Purpose, VerificationService


def parse(raw):
    parsed = parse_participant_phone(raw)
    return parsed.e164, parsed.kind


def signup(s, clock, policy, name, mobile, email):
    data = ss.SignUpInput(
        name=name,
        birth_year=1980,
        email=email,
        phones=[mobile],
        addresses=[ss.AddressInput(AddressKind.HOME, "2611AB", 1)],
        channels=["voice", "sms", "email"],
        consent=True,
    )
    return ss.sign_up(s, clock, policy, data, parse, geocode_delft)


def verify_everything(s, clock, policy, p):
    courier = RecordingCourier()
    v = VerificationService(s, clock, policy, "k" * 32, courier)
    for phone in p.phones:
        ss.send_phone_code(v, p, phone)
        assert v.check(p.id, Purpose.PHONE, phone.e164, courier.last(phone.e164)["code"]).value == "verified"
    ss.send_email_link(v, p)
    assert v.redeem_link(courier.last(p.email)["link"]) is not None


def run_wave(db, clock, settings):
    with db.transaction() as s:
        room = s.scalar(select(Action.control_room_id).limit(1))
    with db.session() as s:
        action = Action(
            control_room_id=room,
            incident_type=IncidentType.SUSPECT,
            description={"clothing": "rode jas"},
            lat=52.0116,
            lon=4.3571,
            radius_m=500,
            channels=["voice", "sms", "email"],
            status=ActionStatus.DRAFT,
        )
        s.add(action)
        s.flush()
        launch_wave(s, action, None, clock, settings)
        s.commit()
        return {d.target for d in s.scalars(select(Delivery).where(Delivery.action_id == action.id))}


@pytest.fixture
def people(db, clock, policy):
    with db.transaction() as s:
        room = control_room(s)
        s.add(
            Action(
                control_room_id=room.id,
                incident_type=IncidentType.OTHER,
                lat=0,
                lon=0,
                radius_m=1,
                status=ActionStatus.ENDED,
            )
        )  # gives run_wave the room
        verified = signup(s, clock, policy, "Geverifieerd", "06 1111 2222", "v@example.nl")
        verify_everything(s, clock, policy, verified)
        unverified = signup(s, clock, policy, "Ongeverifieerd", "06 3333 4444", "u@example.nl")
        return {"verified": verified.id, "unverified": unverified.id}


def test_unverified_numbers_and_addresses_are_never_called(db, clock, settings, people):
    targets = run_wave(db, clock, settings)
    assert targets == {"+31611112222", "v@example.nl"}


@pytest.mark.parametrize("leave", ["opt_out", "pause", "delete"])
def test_who_left_or_paused_is_never_selected(db, clock, settings, people, leave):
    with db.transaction() as s:
        p = s.get(ss.Participant, people["verified"])
        if leave == "opt_out":
            ss.opt_out(s, clock, p)
        elif leave == "pause":
            ss.pause(s, clock, p, date(2026, 12, 24), settings.timezone)
        else:
            ss.delete_account(s, clock, p)
    assert run_wave(db, clock, settings) == set()


def test_a_pause_ends_on_its_date(db, clock, settings, people):
    with db.transaction() as s:
        ss.pause(s, clock, s.get(ss.Participant, people["verified"]), date(2026, 11, 30), settings.timezone)
    clock.advance(2 * 86400)
    assert run_wave(db, clock, settings) == {"+31611112222", "v@example.nl"}
