"""Import of participants from a CSV file: `burgernet participants import FILE.csv`.

The column layout is documented in docs/participants-import.md. Every row is checked as a
whole; a row with any error is rejected (reported with row number, field and reason) and the
others are imported. Rows are matched on `external_ref`, so importing the same file again
changes nothing. Addresses are geocoded; one that cannot be is kept without coordinates
(geocode_status failed) and reported as a warning.

Rules on re-import: the file is the truth for name, birth year, email, channels, phone numbers
and addresses; an opt-out is never undone by an import; a verified number or email address
stays verified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config.clock import Clock
from db.models import (
    Address,
    AddressKind,
    Channel,
    GeocodeStatus,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
)
from participants.addresses import (
    InvalidAddress,
    normalise_addition,
    normalise_postcode,
    parse_house_number,
)
from participants.csv_files import RowError, read_rows
from participants.geocoding import Geocoder, geocode_address
from participants.phones import InvalidPhoneNumber, ParsedPhone, parse_participant_phone
from participants.windows import InvalidTimeWindow, TimeWindow, parse_time_window

MINIMUM_AGE = 16
PHONE_COLUMNS = ("phone_1", "phone_2", "phone_3")
ADDRESS_FIELDS = ("postcode", "house_number", "addition", "street", "city", "lat", "lon", "window")
REQUIRED_COLUMNS = {"external_ref", "name", "birth_year"}
KNOWN_COLUMNS = (
    REQUIRED_COLUMNS
    | {"email", "channels", "status", "verified", *PHONE_COLUMNS}
    | {f"{kind}_{name}" for kind in ("home", "work") for name in ADDRESS_FIELDS}
)
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
_TRUE = {"1", "yes", "ja", "true", "waar", "y", "j"}
_FALSE = {"", "0", "no", "nee", "false", "onwaar", "n"}


@dataclass(frozen=True)
class AddressRecord:
    kind: AddressKind
    postcode: str
    house_number: int
    addition: str
    street: str | None
    municipality: str | None
    lat: float | None
    lon: float | None
    window: TimeWindow | None


@dataclass(frozen=True)
class ParticipantRecord:
    external_ref: str
    name: str
    birth_year: int
    email: str | None
    channels: list[str]
    status: ParticipantStatus
    verified: bool
    phones: list[ParsedPhone]
    addresses: list[AddressRecord]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)  # rejected rows
    warnings: list[RowError] = field(default_factory=list)  # kept, with something to fix

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def ok(self) -> bool:
        return not self.errors


# --- one row, checked as a whole (pure) -----------------------------------------------------


def _address(kind: AddressKind, number: int, row: dict[str, str], errors: list[RowError]):
    prefix = kind.value + "_"
    values = {name: row.get(prefix + name, "") for name in ADDRESS_FIELDS}
    if not any(values.values()):
        return None
    before = len(errors)
    postcode = house_number = None
    addition = ""
    try:
        postcode = normalise_postcode(values["postcode"])
    except InvalidAddress as exc:
        errors.append(RowError(number, prefix + "postcode", str(exc)))
    try:
        house_number = parse_house_number(values["house_number"])
    except InvalidAddress as exc:
        errors.append(RowError(number, prefix + "house_number", str(exc)))
    try:
        addition = normalise_addition(values["addition"])
    except InvalidAddress as exc:
        errors.append(RowError(number, prefix + "addition", str(exc)))
    lat = lon = None
    if values["lat"] or values["lon"]:
        try:
            lat, lon = float(values["lat"].replace(",", ".")), float(values["lon"].replace(",", "."))
            if not (50.0 <= lat <= 54.0 and 3.0 <= lon <= 7.5):
                errors.append(RowError(number, prefix + "lat", f"({lat}, {lon}) is not in the Netherlands"))
        except ValueError:
            errors.append(RowError(number, prefix + "lat", "lat and lon must both be decimal numbers"))
    for name, limit in (("street", 200), ("city", 120)):  # the columns' sizes
        if len(values[name]) > limit:
            errors.append(RowError(number, prefix + name, f"longer than {limit} characters"))
    window = None
    try:
        window = parse_time_window(values["window"])
    except InvalidTimeWindow as exc:
        errors.append(RowError(number, prefix + "window", str(exc)))
    if len(errors) > before or postcode is None or house_number is None:
        return None
    return AddressRecord(
        kind,
        postcode,
        house_number,
        addition,
        values["street"] or None,
        values["city"] or None,
        lat,
        lon,
        window,
    )


def parse_row(
    number: int, row: dict[str, str], this_year: int
) -> tuple[ParticipantRecord | None, list[RowError]]:
    """Check one row; returns the record, or None and every reason it was rejected."""
    errors: list[RowError] = []
    ref = row.get("external_ref", "")
    if not ref:
        errors.append(RowError(number, "external_ref", "is empty"))
    elif len(ref) > 80:
        errors.append(RowError(number, "external_ref", "longer than 80 characters"))
    name = row.get("name", "")
    if not name:
        errors.append(RowError(number, "name", "is empty"))
    elif len(name) > 200:
        errors.append(RowError(number, "name", "longer than 200 characters"))
    birth_year = 0
    text = row.get("birth_year", "")
    if not text.isdigit():
        errors.append(RowError(number, "birth_year", f"not a year: {text!r}"))
    else:
        birth_year = int(text)
        if birth_year < 1900 or birth_year > this_year:
            errors.append(RowError(number, "birth_year", f"{birth_year} is not a plausible birth year"))
        elif this_year - birth_year < MINIMUM_AGE:
            errors.append(
                RowError(
                    number, "birth_year", f"participants must be {MINIMUM_AGE} or older (born {birth_year})"
                )
            )
    email = row.get("email", "").lower() or None
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        errors.append(RowError(number, "email", f"not an email address: {row.get('email')!r}"))
    phones: list[ParsedPhone] = []
    for column in PHONE_COLUMNS:
        if row.get(column):
            try:
                parsed = parse_participant_phone(row[column])
            except InvalidPhoneNumber as exc:
                errors.append(RowError(number, column, str(exc)))
                continue
            if parsed not in phones:
                phones.append(parsed)
    channels: list[str] = []
    for part in re.split(r"[|+\s]+", row.get("channels", "").lower() or "voice"):
        if not part:
            continue
        if part not in {c.value for c in Channel}:
            errors.append(RowError(number, "channels", f"unknown channel {part!r} (voice, sms, email)"))
        elif part not in channels:
            channels.append(part)
    if "voice" in channels and not phones and not any(e.field in PHONE_COLUMNS for e in errors):
        errors.append(RowError(number, "channels", "voice chosen but no phone number given"))
    if (
        "sms" in channels
        and not any(p.kind is PhoneKind.MOBILE for p in phones)
        and not any(e.field in PHONE_COLUMNS for e in errors)
    ):
        errors.append(RowError(number, "channels", "sms chosen but no mobile number given"))
    if "email" in channels and not email and not any(e.field == "email" for e in errors):
        errors.append(RowError(number, "channels", "email chosen but no email address given"))
    status = ParticipantStatus.ACTIVE
    try:
        status = ParticipantStatus(row.get("status", "").lower() or "active")
    except ValueError:
        errors.append(
            RowError(number, "status", f"unknown status {row.get('status')!r} (active, paused, opted_out)")
        )
    verified_text = row.get("verified", "").lower()
    if verified_text not in _TRUE | _FALSE:
        errors.append(RowError(number, "verified", f"expected yes or no, got {row.get('verified')!r}"))
    addresses = [
        a
        for a in (
            _address(AddressKind.HOME, number, row, errors),
            _address(AddressKind.WORK, number, row, errors),
        )
        if a
    ]
    if not addresses and not any(e.field.startswith(("home_", "work_")) for e in errors):
        errors.append(RowError(number, "home_postcode", "no address given (home or work)"))
    if errors:
        return None, errors
    return (
        ParticipantRecord(
            ref, name, birth_year, email, channels, status, verified_text in _TRUE, phones, addresses
        ),
        [],
    )


# --- applying a record to the database --------------------------------------------------------


def _set(obj, name: str, value) -> bool:
    if getattr(obj, name) == value:
        return False
    setattr(obj, name, value)
    return True


def _sync_address(
    participant: Participant, record: AddressRecord, geocoder: Geocoder
) -> tuple[bool, str | None]:
    """Create or update the address of this kind; returns (changed, geocode failure reason)."""
    address = next((a for a in participant.addresses if a.kind == record.kind), None)
    window = record.window or TimeWindow(None, None, None)
    wanted = {
        "postcode": record.postcode,
        "house_number": record.house_number,
        "house_number_addition": record.addition,
        "window_days": window.days,
        "window_start_min": window.start_min,
        "window_end_min": window.end_min,
    }
    located = address is not None and all(
        getattr(address, k) == v for k, v in wanted.items() if not k.startswith("window")
    )
    changed = False
    if address is None:
        address = Address(kind=record.kind, house_number_addition="")
        participant.addresses.append(address)
        changed = True
    for name, value in wanted.items():
        changed |= _set(address, name, value)
    if record.street is not None:
        changed |= _set(address, "street", record.street)
    if record.municipality is not None:
        changed |= _set(address, "municipality", record.municipality)
    given = record.lat is not None
    if given:
        changed |= _set(address, "lat", record.lat) | _set(address, "lon", record.lon)
        changed |= _set(address, "geocode_status", GeocodeStatus.OK) | _set(address, "geocode_error", None)
        return changed, None
    if located and address.geocode_status == GeocodeStatus.OK:
        return changed, None
    before = (address.lat, address.lon, address.geocode_status, address.geocode_error)
    result = geocode_address(address, geocoder)
    changed |= before != (address.lat, address.lon, address.geocode_status, address.geocode_error)
    return changed, None if result else address.geocode_error


def apply_record(
    session: Session,
    participant: Participant | None,
    record: ParticipantRecord,
    geocoder: Geocoder,
    clock: Clock,
) -> tuple[str, list[tuple[str, str]]]:
    """Create or bring up to date one participant; returns (outcome, [(field, warning)])."""
    now = clock.now()
    created = participant is None
    if participant is None:
        participant = Participant(
            external_ref=record.external_ref,
            source="import",
            consent_at=now,
            status=record.status,
            email_verified=False,
        )
        session.add(participant)
    changed = created
    changed |= _set(participant, "name", record.name)
    changed |= _set(participant, "birth_year", record.birth_year)
    if participant.email != record.email:
        participant.email = record.email
        participant.email_verified = bool(record.email) and record.verified
        changed = True
    elif record.verified and record.email and not participant.email_verified:
        participant.email_verified = changed = True
    changed |= _set(participant, "channels", list(record.channels))
    if participant.status != ParticipantStatus.OPTED_OUT:  # an opt-out is never undone here
        changed |= _set(participant, "status", record.status)

    by_number = {p.e164: p for p in participant.phones}
    for phone in record.phones:
        current = by_number.pop(phone.e164, None)
        if current is None:
            participant.phones.append(
                PhoneNumber(
                    e164=phone.e164,
                    kind=phone.kind,
                    verified=record.verified,
                    verified_at=now if record.verified else None,
                )
            )
            changed = True
            continue
        changed |= _set(current, "kind", phone.kind)
        if record.verified and not current.verified:
            current.verified, current.verified_at, changed = True, now, True
    for gone in by_number.values():
        participant.phones.remove(gone)
        changed = True

    warnings = []
    kinds = {a.kind for a in record.addresses}
    for address in [a for a in participant.addresses if a.kind not in kinds]:
        participant.addresses.remove(address)
        changed = True
    for address_record in record.addresses:
        address_changed, failure = _sync_address(participant, address_record, geocoder)
        changed |= address_changed
        if failure:
            warnings.append((f"{address_record.kind.value}_postcode", f"kept without coordinates: {failure}"))
    return ("created" if created else "updated" if changed else "unchanged"), warnings


def import_participants(
    session: Session,
    path: Path | str,
    geocoder: Geocoder,
    clock: Clock,
    progress: Callable[[int], None] = lambda n: None,
    chunk_size: int = 500,
) -> ImportReport:
    """Import every acceptable row of the file (see module doc); the caller commits."""
    report = ImportReport()
    this_year = clock.now().year
    first_row: dict[str, int] = {}
    chunk: list[tuple[int, ParticipantRecord]] = []

    def flush() -> None:
        refs = [record.external_ref for _, record in chunk]
        existing = {
            p.external_ref: p
            for p in session.scalars(
                select(Participant)
                .where(Participant.external_ref.in_(refs))
                .options(selectinload(Participant.addresses), selectinload(Participant.phones))
            )
        }
        for number, record in chunk:
            outcome, warnings = apply_record(
                session, existing.get(record.external_ref), record, geocoder, clock
            )
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.warnings.extend(RowError(number, f, reason) for f, reason in warnings)
            session.flush()
        progress(len(chunk))
        chunk.clear()

    rows: Iterable = read_rows(path, REQUIRED_COLUMNS, KNOWN_COLUMNS)
    for number, row, problem in rows:
        if problem is not None:
            report.errors.append(problem)
            progress(1)
            continue
        record, errors = parse_row(number, row, this_year)
        if record is not None and record.external_ref in first_row:
            errors = [
                RowError(
                    number,
                    "external_ref",
                    f"{record.external_ref!r} already on row {first_row[record.external_ref]}",
                )
            ]
            record = None
        if record is None:
            report.errors.extend(errors)
            progress(1)
            continue
        first_row[record.external_ref] = number
        chunk.append((number, record))
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return report
