"""A small, deterministic world for the browser tests: the demo logins of Meldkamer Haaglanden,
participants around Delft's Markt and a gazetteer entry for the address search."""

from __future__ import annotations

import math
import random

from werkzeug.security import generate_password_hash

from db.database import Database
from db.models import (
    Address,
    AddressKind,
    ControlRoom,
    GazetteerAddress,
    GeocodeStatus,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
)

MARKT = (52.0116, 4.3571)
MARKT_ADDRESS = ("2611GN", 1, "Markt", 52.01163, 4.35868)
PASSWORD = "burgernet-demo"
# The participant who phones the call-back line in the tests (and is reached by the wave).
WITNESS_NUMBER = "+31612340000"


def seed_everything(db: Database, participants: int = 40) -> None:
    rng = random.Random(2611)
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with db.transaction() as s:
        room = ControlRoom(
            name="Meldkamer Haaglanden",
            region="Haaglanden",
            transfer_target="+31703456789",
            callback_number="0800-0011",
        )
        s.add(room)
        s.flush()
        for role, name in (
            (Role.CENTRALIST, "Centralist de Vries"),
            (Role.SUPERVISOR, "Supervisor Jansen"),
            (Role.ADMIN, "Beheerder Bakker"),
        ):
            s.add(
                Operator(
                    username=role.value,
                    display_name=name,
                    password_hash=hashed,
                    role=role,
                    control_room_id=room.id,
                    transfer_target="+31701234567",
                )
            )
        postcode, number, street, lat, lon = MARKT_ADDRESS
        s.add(
            GazetteerAddress(
                postcode=postcode,
                house_number=number,
                street=street,
                city="Delft",
                municipality="Delft",
                lat=lat,
                lon=lon,
            )
        )
        for i in range(participants):
            distance = 900 * math.sqrt(rng.random())
            bearing = rng.random() * 2 * math.pi
            plat = MARKT[0] + distance * math.cos(bearing) / 111_320
            plon = MARKT[1] + distance * math.sin(bearing) / (111_320 * math.cos(math.radians(MARKT[0])))
            channels = ["voice"] + (["sms"] if i % 4 == 0 else []) + (["email"] if i % 5 == 0 else [])
            p = Participant(
                name=f"Deelnemer {i:02d}",
                birth_year=1960 + i % 40,
                email=f"deelnemer{i}@example.nl",
                email_verified=True,
                channels=channels,
                source="test",
            )
            p.addresses.append(
                Address(
                    kind=AddressKind.HOME,
                    postcode=f"26{11 + i % 9:02d}AB",
                    house_number=i + 1,
                    lat=plat,
                    lon=plon,
                    geocode_status=GeocodeStatus.OK,
                )
            )
            number_ = WITNESS_NUMBER if i == 0 else f"+3161234{i:04d}"
            kind = PhoneKind.MOBILE if i % 3 else PhoneKind.LANDLINE
            if kind == PhoneKind.LANDLINE and i:
                number_ = f"+3115212{i:04d}"
            p.phones.append(PhoneNumber(e164=number_, kind=kind if i else PhoneKind.MOBILE, verified=True))
            s.add(p)
