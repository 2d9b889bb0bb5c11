"""The incident's location from a postcode and house number (the console's address search and
the API's `location.postcode`), through the platform's geocoder chain."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from actions.errors import InvalidActionRequest
from config.settings import Settings
from participants.addresses import (
    InvalidAddress,
    normalise_addition,
    normalise_postcode,
    parse_house_number,
)
from participants.geocoding import AddressQuery, GeocoderUnavailable, GeocodingError, geocoder_for


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    label: str


def locate_address(
    session: Session, settings: Settings, postcode: str, number: str, addition: str = ""
) -> Location:
    """Geocode a postcode + house number: the local gazetteer first, then PDOK.

    Raises InvalidActionRequest with a Dutch message (key "location") when it cannot."""
    try:
        query = AddressQuery(
            normalise_postcode(postcode), parse_house_number(number), normalise_addition(addition)
        )
    except InvalidAddress as invalid:
        raise InvalidActionRequest({"location": invalid.user_message}) from invalid
    label = f"{query.postcode} {query.house_number}{query.house_number_addition}"
    try:
        result = geocoder_for(session, settings).geocode(query)
    except GeocoderUnavailable as error:
        raise InvalidActionRequest(
            {"location": "De adreszoeker is niet bereikbaar. Klik de locatie op de kaart aan."}
        ) from error
    except GeocodingError as error:
        raise InvalidActionRequest(
            {
                "location": f"Adres {label} niet gevonden. Controleer "
                "postcode en huisnummer, of klik op de kaart."
            }
        ) from error
    if result.street:
        label = (
            f"{result.street} {query.house_number}{query.house_number_addition}, "
            f"{result.city or query.postcode}"
        )
    return Location(round(result.lat, 6), round(result.lon, 6), label)
