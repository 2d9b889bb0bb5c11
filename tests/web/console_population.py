"""A small, known population around Delft's Markt for console tests."""

from __future__ import annotations

from db.models import Address, AddressKind, GeocodeStatus, Participant, PhoneKind, PhoneNumber

MARKT = (52.0116, 4.3571)


def add_participants(
    db, n: int = 12, *, lat: float = MARKT[0], lon: float = MARKT[1], step_deg: float = 0.001
) -> list[int]:
    """n participants on a line going north from (lat, lon), ~111 m apart. Every third
    chooses sms besides voice, every fourth email; all numbers and emails verified."""
    ids = []
    with db.transaction() as s:
        for i in range(n):
            channels = ["voice"] + (["sms"] if i % 3 == 0 else []) + (["email"] if i % 4 == 0 else [])
            p = Participant(
                name=f"Deelnemer {i}",
                birth_year=1970,
                email=f"p{i}@example.nl",
                email_verified=True,
                channels=channels,
                source="test",
            )
            p.addresses.append(
                Address(
                    kind=AddressKind.HOME,
                    postcode="2611AB",
                    house_number=i + 1,
                    lat=lat + i * step_deg,
                    lon=lon,
                    geocode_status=GeocodeStatus.OK,
                )
            )
            p.phones.append(PhoneNumber(e164=f"+3161000{i:04d}", kind=PhoneKind.MOBILE, verified=True))
            s.add(p)
            s.flush()
            ids.append(p.id)
    return ids
