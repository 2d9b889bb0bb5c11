"""Fixtures for the action use cases: a control room with a centralist and a supervisor, a
supervisor of another room, participants around Delft's Markt, and the CLI runner."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from actions_testing import MARKT

from db.models import (
    Address,
    AddressKind,
    ControlRoom,
    GeocodeStatus,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
)
from tests.support.cli import cli_runner


@dataclass
class Rooms:
    room_id: int
    centralist_id: int
    supervisor_id: int
    other_supervisor_id: int


@pytest.fixture
def rooms(db) -> Rooms:
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31703456789")
        other = ControlRoom(
            name="Meldkamer Rotterdam", region="Rotterdam-Rijnmond", transfer_target="+31104567890"
        )
        s.add_all([room, other])
        s.flush()
        people = {}
        for username, role, room_id in (
            ("centralist", Role.CENTRALIST, room.id),
            ("supervisor", Role.SUPERVISOR, room.id),
            ("elders", Role.SUPERVISOR, other.id),
        ):
            operator = Operator(
                username=username,
                display_name=username.title(),
                password_hash="x",
                role=role,
                control_room_id=room_id,
            )
            s.add(operator)
            s.flush()
            people[username] = operator.id
    return Rooms(room.id, people["centralist"], people["supervisor"], people["elders"])


@pytest.fixture
def population(db) -> int:
    """Ten participants on a line north of the Markt, ~111 m apart, each with a verified mobile
    number chosen for voice: ten recipients within 1500 m."""
    with db.transaction() as s:
        for i in range(10):
            p = Participant(name=f"Deelnemer {i}", birth_year=1970, channels=["voice"], source="test")
            p.addresses.append(
                Address(
                    kind=AddressKind.HOME,
                    postcode="2611AB",
                    house_number=i + 1,
                    lat=MARKT[0] + i * 0.001,
                    lon=MARKT[1],
                    geocode_status=GeocodeStatus.OK,
                )
            )
            p.phones.append(PhoneNumber(e164=f"+3161000{i:04d}", kind=PhoneKind.MOBILE, verified=True))
            s.add(p)
    return 10


@pytest.fixture
def runner(app):
    return cli_runner(app)
