"""The demo world: `burgernet demo seed`.

A deterministic synthetic population in Delft (participant i is always the same person,
whatever --participants says), a small gazetteer of Delft addresses in postcode areas 2611-2629,
the control room "Meldkamer Haaglanden" and three operator logins (centralist, supervisor,
admin; password "burgernet-demo"). Seeding again changes nothing; it only adds what is missing.
All demo phone numbers and email addresses count as verified.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from config.clock import Clock
from db.models import (
    Address,
    AddressKind,
    ControlRoom,
    GazetteerAddress,
    GeocodeStatus,
    Operator,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
    Role,
)

DEMO_PASSWORD = "burgernet-demo"
CONTROL_ROOM = {
    "name": "Meldkamer Haaglanden",
    "region": "Haaglanden",
    "transfer_target": "+31703456789",
    "callback_number": "0800-0011",
}
OPERATORS = [
    ("centralist", "Centralist (demo)", Role.CENTRALIST),
    ("supervisor", "Chef van dienst (demo)", Role.SUPERVISOR),
    ("admin", "Beheerder (demo)", Role.ADMIN),
]

# A simplified outline of the municipality of Delft (lat, lon), clockwise from the north-west.
DELFT_OUTLINE = [
    (52.0290, 4.3300),
    (52.0335, 4.3480),
    (52.0320, 4.3700),
    (52.0240, 4.3900),
    (52.0080, 4.3980),
    (51.9930, 4.3960),
    (51.9800, 4.3850),
    (51.9760, 4.3650),
    (51.9790, 4.3400),
    (51.9900, 4.3280),
    (52.0080, 4.3240),
    (52.0200, 4.3240),
]

# Postcode area -> (centre lat, centre lon, streets). Approximate, for demonstration only.
POSTCODE_AREAS = {
    "2611": (52.0116, 4.3571, ["Markt", "Oude Delft", "Voorstraat", "Wijnhaven", "Brabantse Turfmarkt"]),
    "2612": (52.0180, 4.3630, ["Hof van Delftlaan", "Nassaulaan", "Jacoba van Beierenlaan"]),
    "2613": (52.0045, 4.3615, ["Zuidwal", "Haagweg", "Paradijsplein"]),
    "2614": (52.0265, 4.3560, ["Van Foreestweg", "Kristalweg", "Straatsburgflat"]),
    "2616": (52.0225, 4.3720, ["Krakeelpolderweg", "Delfgauwseweg", "Hoornbrug"]),
    "2617": (52.0200, 4.3430, ["Westlandseweg", "Papsouwselaan", "Wateringsevest"]),
    "2618": (52.0285, 4.3420, ["Vrijenbanselaan", "Dobbelmannweg", "Buitenwatersloot"]),
    "2621": (52.0050, 4.3420, ["Westvest", "Hugo de Grootstraat", "Spoorsingel"]),
    "2622": (51.9995, 4.3500, ["Aart van der Leeuwlaan", "Martinus Nijhofflaan", "Roland Holstlaan"]),
    "2623": (51.9945, 4.3400, ["Bikolaan", "Ruys de Beerenbroucklaan", "Buitenhofdreef"]),
    "2624": (51.9880, 4.3550, ["Tanthofkade", "Kruithuisweg", "Jaagpad"]),
    "2625": (51.9845, 4.3430, ["Tanthofdreef", "Kastanjelaan", "Esdoornlaan"]),
    "2626": (51.9950, 4.3650, ["Schoemakerstraat", "Kluyverweg", "Zuideinde"]),
    "2627": (51.9920, 4.3780, ["Rotterdamseweg", "Schieweg", "Abtswoudseweg"]),
    "2628": (52.0005, 4.3720, ["Mekelweg", "Julianalaan", "Stevinweg", "Leeghwaterstraat"]),
    "2629": (51.9895, 4.3860, ["Elektronicaweg", "Heertjeslaan", "Molengraaffsingel"]),
}
LETTERS_PER_AREA = 8
NUMBERS_PER_STREET = 40

FIRST_NAMES = [
    "Jan",
    "Anna",
    "Pieter",
    "Sophie",
    "Kees",
    "Emma",
    "Willem",
    "Julia",
    "Hendrik",
    "Lotte",
    "Johan",
    "Fleur",
    "Mohamed",
    "Sanne",
    "Thomas",
    "Fatima",
    "Daan",
    "Noor",
    "Bram",
    "Ingrid",
    "Gerrit",
    "Marieke",
    "Ahmet",
    "Eva",
    "Ruud",
    "Annelies",
    "Sem",
    "Yara",
    "Joost",
    "Petra",
]
LAST_NAMES = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Yilmaz",
    "El Amrani",
    "Vermeer",
]


@dataclass
class SeedSummary:
    participants_added: int = 0
    participants_total: int = 0
    gazetteer_added: int = 0
    operators: list[str] = field(default_factory=list)


def inside_delft(lat: float, lon: float) -> bool:
    """Ray casting against the simplified outline."""
    inside = False
    points = DELFT_OUTLINE
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:] + points[:1], strict=True):
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def _along(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    return (
        round(lat + metres * math.cos(bearing) / 111_195.0, 7),
        round(lon + metres * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat))), 7),
    )


def demo_gazetteer() -> list[dict]:
    """The demo gazetteer: per postcode area, streets of house numbers 1-40."""
    rows = []
    for digits, (lat0, lon0, streets) in POSTCODE_AREAS.items():
        rng = random.Random(f"demo-gazetteer-{digits}")
        for k in range(LETTERS_PER_AREA):
            letters = "ABCDEGHJ"[k] + "ABCDEGHJKLMNPRSTVWXZ"[rng.randrange(20)]
            street = streets[k % len(streets)]
            while True:  # a street of 40 houses, about 8 m apart, entirely inside Delft
                lat = lat0 + rng.gauss(0, 0.0035)
                lon = lon0 + rng.gauss(0, 0.0055)
                bearing = rng.uniform(0, math.pi)
                houses = [
                    _along(lat, lon, bearing, (n - NUMBERS_PER_STREET / 2) * 8.0)
                    for n in range(1, NUMBERS_PER_STREET + 1)
                ]
                if all(inside_delft(*house) for house in houses):
                    break
            for number, (house_lat, house_lon) in enumerate(houses, start=1):
                rows.append(
                    {
                        "postcode": f"{digits}{letters}",
                        "house_number": number,
                        "house_number_addition": "",
                        "street": street,
                        "city": "Delft",
                        "municipality": "Delft",
                        "lat": house_lat,
                        "lon": house_lon,
                    }
                )
    return rows


@dataclass(frozen=True)
class DemoPerson:
    ref: str
    name: str
    birth_year: int
    email: str | None
    channels: list[str]
    status: ParticipantStatus
    home: int  # index into the gazetteer
    work: tuple[int, int, int, int] | None  # (gazetteer index, days, start, end)
    landline: str | None
    mobile: str | None


def demo_person(i: int, gazetteer_size: int, workplaces: list[int]) -> DemoPerson:
    """Participant number i (from 1), the same every time."""
    household = i % 10 == 7  # shares home and landline with participant i - 1
    base = demo_person(i - 1, gazetteer_size, workplaces) if household else None
    rng = random.Random(f"demo-participant-{i}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if base is not None:
        last = base.name.split(" ", 1)[1]
    roll = rng.random()
    landline = (
        base.landline if base and base.landline else (f"+31152{100000 + i:06d}" if roll < 0.55 else None)
    )
    mobile = f"+316{20000000 + i:08d}" if roll >= 0.3 or landline is None else None
    email = (
        f"{first}.{last}.{i}@demo.burgernet.invalid".lower().replace(" ", "") if rng.random() < 0.5 else None
    )
    if mobile:
        channels = rng.choices([["voice"], ["sms"], ["voice", "sms"]], weights=[45, 40, 15])[0]
    else:
        channels = ["voice"]
    if email and rng.random() < 0.4:
        channels = channels + ["email"]
    status_roll = rng.random()
    status = (
        ParticipantStatus.OPTED_OUT
        if status_roll < 0.04
        else ParticipantStatus.PAUSED
        if status_roll < 0.06
        else ParticipantStatus.ACTIVE
    )
    work = None
    if rng.random() < 0.12:
        days, start, end = rng.choice(
            [(0b0011111, 8 * 60, 18 * 60), (0b0011111, 9 * 60, 17 * 60), (0b0100000, 9 * 60, 17 * 60)]
        )
        work = (rng.choice(workplaces), days, start, end)
    home = base.home if base else rng.randrange(gazetteer_size)
    return DemoPerson(
        f"demo-{i:05d}",
        f"{first} {last}",
        rng.randrange(1940, 2009),
        email,
        channels,
        status,
        home,
        work,
        landline,
        mobile,
    )


def _seed_control_room(session: Session, summary: SeedSummary) -> None:
    room = session.scalar(select(ControlRoom).where(ControlRoom.name == CONTROL_ROOM["name"]))
    if room is None:
        room = ControlRoom(**CONTROL_ROOM)
        session.add(room)
        session.flush()
    existing = set(session.scalars(select(Operator.username)))
    password_hash = None
    for username, display_name, role in OPERATORS:
        summary.operators.append(username)
        if username in existing:
            continue
        password_hash = password_hash or generate_password_hash(DEMO_PASSWORD)
        session.add(
            Operator(
                username=username,
                display_name=display_name,
                password_hash=password_hash,
                role=role,
                control_room_id=room.id,
            )
        )


def seed_demo(session: Session, participants: int, clock: Clock) -> SeedSummary:
    summary = SeedSummary()
    _seed_control_room(session, summary)

    gazetteer = demo_gazetteer()
    known = {
        tuple(row)
        for row in session.execute(
            select(
                GazetteerAddress.postcode,
                GazetteerAddress.house_number,
                GazetteerAddress.house_number_addition,
            )
        )
    }
    for row in gazetteer:
        if (row["postcode"], row["house_number"], row["house_number_addition"]) not in known:
            session.add(GazetteerAddress(**row))
            summary.gazetteer_added += 1

    workplaces = [k for k, row in enumerate(gazetteer) if row["postcode"][:4] in {"2611", "2628", "2629"}]
    existing = set(
        session.scalars(select(Participant.external_ref).where(Participant.external_ref.like("demo-%")))
    )
    now: datetime = clock.now()
    for i in range(1, participants + 1):
        person = demo_person(i, len(gazetteer), workplaces)
        if person.ref in existing:
            continue
        session.add(_participant(person, gazetteer, now))
        summary.participants_added += 1
    session.flush()
    summary.participants_total = len(existing) + summary.participants_added
    return summary


def _address(kind: AddressKind, row: dict, window: tuple[int, int, int] | None) -> Address:
    days, start, end = window or (None, None, None)
    return Address(
        kind=kind,
        postcode=row["postcode"],
        house_number=row["house_number"],
        house_number_addition=row["house_number_addition"],
        street=row["street"],
        municipality=row["municipality"],
        lat=row["lat"],
        lon=row["lon"],
        geocode_status=GeocodeStatus.OK,
        window_days=days,
        window_start_min=start,
        window_end_min=end,
    )


def _participant(person: DemoPerson, gazetteer: list[dict], now: datetime) -> Participant:
    participant = Participant(
        external_ref=person.ref,
        name=person.name,
        birth_year=person.birth_year,
        email=person.email,
        email_verified=person.email is not None,
        channels=person.channels,
        status=person.status,
        source="demo",
        consent_at=now,
    )
    participant.addresses.append(_address(AddressKind.HOME, gazetteer[person.home], None))
    if person.work is not None:
        index, days, start, end = person.work
        participant.addresses.append(_address(AddressKind.WORK, gazetteer[index], (days, start, end)))
    for number, kind in ((person.landline, PhoneKind.LANDLINE), (person.mobile, PhoneKind.MOBILE)):
        if number:
            participant.phones.append(PhoneNumber(e164=number, kind=kind, verified=True, verified_at=now))
    return participant
