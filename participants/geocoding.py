"""Geocoding: from postcode + house number to coordinates, behind one `Geocoder` interface.

Three geocoders and a chain:
- `DirectCoordinates`: coordinates given with the address (an import file, a map click);
- `GazetteerGeocoder`: the local `gazetteer_address` table, loaded from a BAG address extract
  by `import_gazetteer` (`burgernet participants import-gazetteer FILE.csv`);
- `PdokGeocoder`: the public PDOK Locatieserver `free` endpoint;
- `GeocoderChain`: the first that answers wins; the failures of all are reported together.

`geocoder_for` is the one place that assembles the chain from the settings: the console, the
sign-up form and the importer all ask it.

`geocode_address` applies a geocoder to an `Address` row: an address that cannot be geocoded
is kept with `geocode_status = failed` and the reason in `geocode_error`, never dropped.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import log_event
from config.settings import Settings
from db.models import Address, GazetteerAddress, GeocodeStatus
from participants.addresses import (
    InvalidAddress,
    normalise_addition,
    normalise_postcode,
    parse_house_number,
)
from participants.csv_files import RowError, read_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddressQuery:
    postcode: str  # normalised, "2611AB"
    house_number: int
    house_number_addition: str = ""  # normalised, "A", "2HG"
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lon: float
    source: str  # "direct", "gazetteer" or "pdok"
    street: str | None = None
    city: str | None = None
    municipality: str | None = None


class GeocodingError(Exception):
    """An address that could not be geocoded; the message says why."""


class AddressNotFound(GeocodingError):
    pass


class GeocoderUnavailable(GeocodingError):
    """The service did not answer (network, timeout, bad response)."""


class Geocoder(Protocol):
    name: str

    def geocode(self, query: AddressQuery) -> GeocodeResult:
        """Coordinates for the address, or raise a GeocodingError."""


def check_coordinates(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise GeocodingError("coordinates are not finite numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise GeocodingError(f"coordinates out of range: lat {lat}, lon {lon}")


class DirectCoordinates:
    """The coordinates came with the address."""

    name = "direct"

    def geocode(self, query: AddressQuery) -> GeocodeResult:
        if query.lat is None or query.lon is None:
            raise AddressNotFound("no coordinates given")
        check_coordinates(query.lat, query.lon)
        return GeocodeResult(query.lat, query.lon, self.name)


class GazetteerGeocoder:
    """Postcode + house number (+ addition) in the local `gazetteer_address` table.

    An exact match on the addition wins; an address with an addition the gazetteer does not
    know falls back to the bare house number (same building, so the same point to us).
    """

    name = "gazetteer"

    def __init__(self, session: Session):
        self.session = session

    def geocode(self, query: AddressQuery) -> GeocodeResult:
        rows = self.session.scalars(
            select(GazetteerAddress).where(
                GazetteerAddress.postcode == query.postcode,
                GazetteerAddress.house_number == query.house_number,
            )
        ).all()
        by_addition = {row.house_number_addition: row for row in rows}
        row = by_addition.get(query.house_number_addition) or by_addition.get("")
        if row is None:
            raise AddressNotFound(
                f"{query.postcode} {query.house_number}{query.house_number_addition} is not in the gazetteer"
            )
        return GeocodeResult(row.lat, row.lon, self.name, row.street, row.city, row.municipality)


_POINT = re.compile(r"^\s*POINT\s*\(\s*(-?[0-9.eE+-]+)\s+(-?[0-9.eE+-]+)\s*\)\s*$")


def parse_wkt_point(text: str) -> tuple[float, float]:
    """ "POINT(4.35797 52.01138)" -> (lat, lon)."""
    match = _POINT.match(text or "")
    if not match:
        raise GeocoderUnavailable(f"unexpected centroid in the response: {text!r}")
    lon, lat = float(match.group(1)), float(match.group(2))
    check_coordinates(lat, lon)
    return lat, lon


class PdokGeocoder:
    """The PDOK Locatieserver `free` endpoint (api.pdok.nl/bzk/locatieserver/search/v3_1)."""

    name = "pdok"
    fields = (
        "id,weergavenaam,straatnaam,huisnummer,huisletter,huisnummertoevoeging,postcode,"
        "woonplaatsnaam,gemeentenaam,centroide_ll"
    )

    def __init__(self, base_url: str, timeout_s: float = 5.0, http: requests.Session | None = None):
        self.url = base_url.rstrip("/") + "/free"
        self.timeout_s = timeout_s
        self.http = http or requests.Session()

    def geocode(self, query: AddressQuery) -> GeocodeResult:
        params: dict[str, str | int] = {
            "q": f"postcode:{query.postcode} AND huisnummer:{query.house_number}",
            "fq": "type:adres",
            "fl": self.fields,
            "rows": 20,
        }
        try:
            response = self.http.get(self.url, params=params, timeout=self.timeout_s)
            response.raise_for_status()
            docs = response.json()["response"]["docs"]
        except requests.RequestException as exc:
            raise GeocoderUnavailable(f"PDOK Locatieserver did not answer: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise GeocoderUnavailable(f"PDOK Locatieserver sent an unexpected response: {exc}") from exc
        chosen = self._choose(docs, query)
        lat, lon = parse_wkt_point(chosen.get("centroide_ll", ""))
        return GeocodeResult(
            lat,
            lon,
            self.name,
            chosen.get("straatnaam"),
            chosen.get("woonplaatsnaam"),
            chosen.get("gemeentenaam"),
        )

    @staticmethod
    def _choose(docs: list[dict], query: AddressQuery) -> dict:
        matching = [
            d
            for d in docs
            if str(d.get("postcode", "")).replace(" ", "").upper() == query.postcode
            and str(d.get("huisnummer", "")) == str(query.house_number)
        ]
        for doc in matching:
            addition = normalise_addition(doc.get("huisletter"), doc.get("huisnummertoevoeging"))
            if addition == query.house_number_addition:
                return doc
        bare = [d for d in matching if not d.get("huisletter") and not d.get("huisnummertoevoeging")]
        if bare:
            return bare[0]
        if matching and not query.house_number_addition:
            return matching[0]
        raise AddressNotFound(
            f"{query.postcode} {query.house_number}{query.house_number_addition} "
            "is unknown to the PDOK Locatieserver"
        )


@dataclass
class GeocoderChain:
    geocoders: Sequence[Geocoder]
    name: str = "chain"

    def geocode(self, query: AddressQuery) -> GeocodeResult:
        reasons = []
        for geocoder in self.geocoders:
            try:
                return geocoder.geocode(query)
            except GeocodingError as exc:
                reasons.append(f"{geocoder.name}: {exc}")
        raise GeocodingError("; ".join(reasons) or "no geocoder configured")


def geocoder_for(
    session: Session, settings: Settings, *, pdok: bool = True, direct_coordinates: bool = False
) -> GeocoderChain:
    """The geocoder chain the platform uses: coordinates given with the address (when
    `direct_coordinates`), then the local gazetteer, then the PDOK Locatieserver (when `pdok`
    and `settings.pdok_base_url` is set)."""
    geocoders: list[Geocoder] = [DirectCoordinates()] if direct_coordinates else []
    geocoders.append(GazetteerGeocoder(session))
    if pdok and settings.pdok_base_url:
        geocoders.append(PdokGeocoder(settings.pdok_base_url, settings.geocoder_timeout_s))
    return GeocoderChain(geocoders)


def query_for(address: Address) -> AddressQuery:
    return AddressQuery(
        address.postcode,
        address.house_number,
        address.house_number_addition or "",
        address.lat,
        address.lon,
    )


def geocode_address(address: Address, geocoder: Geocoder) -> GeocodeResult | None:
    """Fill in coordinates; on failure keep the address, marked failed with the reason."""
    try:
        result = geocoder.geocode(query_for(address))
    except GeocodingError as exc:
        address.lat = address.lon = None
        address.geocode_status = GeocodeStatus.FAILED
        address.geocode_error = str(exc)[:300]
        log_event(
            logger,
            "geocode.failed",
            address_id=address.id,
            postcode=address.postcode,
            reason=str(exc),
            level=logging.WARNING,
        )
        return None
    address.lat, address.lon = result.lat, result.lon
    address.geocode_status = GeocodeStatus.OK
    address.geocode_error = None
    if result.street and not address.street:
        address.street = result.street
    if result.municipality and not address.municipality:
        address.municipality = result.municipality
    return result


# --- the gazetteer import ------------------------------------------------------------------

# Column layout of the public BAG address extract (NLExtract `bagadres` CSV); see
# docs/participants-import.md. Only the columns below `REQUIRED` are needed.
BAG_COLUMNS = {
    "openbareruimte",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "postcode",
    "woonplaats",
    "gemeente",
    "provincie",
    "object_id",
    "object_type",
    "nevenadres",
    "x",
    "y",
    "lon",
    "lat",
}
BAG_REQUIRED = {"huisnummer", "postcode", "lon", "lat"}


@dataclass
class GazetteerReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})


def _bag_row(number: int, row: dict[str, str]) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []
    values: dict = {}
    try:
        values["postcode"] = normalise_postcode(row.get("postcode", ""))
    except InvalidAddress as exc:
        errors.append(RowError(number, "postcode", str(exc)))
    try:
        values["house_number"] = parse_house_number(row.get("huisnummer", ""))
    except InvalidAddress as exc:
        errors.append(RowError(number, "huisnummer", str(exc)))
    try:
        values["house_number_addition"] = normalise_addition(
            row.get("huisletter"), row.get("huisnummertoevoeging")
        )
    except InvalidAddress as exc:
        errors.append(RowError(number, "huisnummertoevoeging", str(exc)))
    for column in ("lat", "lon"):
        try:
            values[column] = float(row.get(column, "").replace(",", "."))
        except ValueError:
            errors.append(RowError(number, column, f"not a number: {row.get(column)!r}"))
    if "lat" in values and "lon" in values:
        try:
            check_coordinates(values["lat"], values["lon"])
        except GeocodingError as exc:
            errors.append(RowError(number, "lat", str(exc)))
    values["street"] = row.get("openbareruimte") or None
    values["city"] = row.get("woonplaats") or None
    values["municipality"] = row.get("gemeente") or None
    return values, errors


def import_gazetteer(
    session: Session,
    path: Path | str,
    progress: Callable[[int], None] = lambda n: None,
    chunk_size: int = 2000,
) -> GazetteerReport:
    """Load a BAG address extract into `gazetteer_address`; re-importing changes nothing."""
    report = GazetteerReport()
    chunk: dict[tuple, dict] = {}

    def flush() -> None:
        postcodes = {key[0] for key in chunk}
        existing = {
            (g.postcode, g.house_number, g.house_number_addition): g
            for g in session.scalars(select(GazetteerAddress).where(GazetteerAddress.postcode.in_(postcodes)))
        }
        for key, values in chunk.items():
            current = existing.get(key)
            if current is None:
                session.add(GazetteerAddress(**values))
                report.inserted += 1
                continue
            changed = False
            for name in ("street", "city", "municipality", "lat", "lon"):
                if getattr(current, name) != values[name]:
                    setattr(current, name, values[name])
                    changed = True
            report.updated += changed
            report.unchanged += not changed
        session.flush()
        progress(len(chunk))
        chunk.clear()

    for number, row, problem in read_rows(path, BAG_REQUIRED, BAG_COLUMNS):
        if problem is not None:
            report.errors.append(problem)
            continue
        values, errors = _bag_row(number, row)
        if errors:
            report.errors.extend(errors)
            continue
        key = (values["postcode"], values["house_number"], values["house_number_addition"])
        chunk[key] = values  # a later row for the same address wins
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return report
