"""Selection of recipients: every reachable contact point inside a circle, nearest first.

This module is the contract the rest of the platform codes against (`Recipient`,
`select_recipients`, `count_by_channel`).

How a selection runs:
1. Candidates come from the spatial index `selection_grid` (participants.spatial_index and
   spatial_index_pg): range scans over the grid cells around the circle, clustered on SQLite
   (WITHOUT ROWID) and index-only through a covering index on PostgreSQL. One row per
   address, carrying the participant's verified contact points per chosen channel;
   opted-out and paused participants are left out in SQL.
2. `recipients_from_rows` (pure, no I/O) computes the exact great-circle distance (haversine),
   drops what lies outside the circle or outside its address's weekly time window, expands each
   participant's channel choice into contact points, and keeps one delivery per (channel, target).

Rules, in one place:
- "voice" reaches each verified phone number (landline and mobile), "sms" each verified
  mobile number, "email" the verified email address.
- Opted-out participants are never selected; a participant whose `paused_until` lies after
  `at` is skipped; status "paused" without an end date is skipped.
- An address with a weekly window (days bitmask Monday=1 ... Sunday=64, minutes of the local
  day in the platform's time zone, `settings.timezone`, passed as `timezone`) counts only
  inside it; a window whose end is before its start runs past midnight and belongs to the day
  it starts.
- One (channel, target) pair, one delivery: the nearest occurrence is kept, so a household
  sharing a landline gets one call, and a participant with home and work in the circle is
  contacted once per target. A mobile number chosen for both voice and sms gets a call and a
  text, because the participant asked for both.
- Order: distance, then participant id, address id, channel (voice, sms, email), target.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from db.models import Address, Channel, PhoneKind
from db.types import UTCDateTime
from participants.spatial_index import CELLS_PER_DEGREE, GRID_TABLE, contact_columns

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
DEFAULT_TIMEZONE = "Europe/Amsterdam"  # settings.timezone's default
MAX_RADIUS_M = 500_000.0

_CHANNEL_RANK = {Channel.VOICE: 0, Channel.SMS: 1, Channel.EMAIL: 2}
_PHONE_KINDS = {kind.value: kind for kind in PhoneKind}


class SelectionError(ValueError):
    """A selection request that cannot be answered (bad point, radius, time or channel)."""


@dataclass(frozen=True)
class Recipient:
    participant_id: int
    address_id: int
    channel: Channel  # db.models.Channel: VOICE, SMS or EMAIL
    target: str  # E.164 number or email address
    phone_kind: PhoneKind | None
    distance_m: float


@dataclass(frozen=True)
class BoundingBox:
    south: float
    north: float
    west: float
    east: float  # east < west when the box crosses the 180th meridian

    @property
    def crosses_antimeridian(self) -> bool:
        return self.east < self.west


# --- pure geometry and rules -----------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def participant_distance_m(session: Session, participant_id: int, lat: float, lon: float) -> float | None:
    """Distance from the participant's nearest geocoded address to a point (None: no address)."""
    distances = [
        haversine_m(a, b, lat, lon)
        for a, b in session.execute(
            select(Address.lat, Address.lon).where(Address.participant_id == participant_id)
        )
        if a is not None and b is not None
    ]
    return round(min(distances), 1) if distances else None


def bounding_box(lat: float, lon: float, radius_m: float) -> BoundingBox:
    """The smallest lat/lon box holding the circle, widened by a hair against rounding."""
    delta = radius_m / EARTH_RADIUS_M  # angular radius
    margin = 1e-7  # degrees, about a centimetre
    south = lat - math.degrees(delta) - margin
    north = lat + math.degrees(delta) + margin
    if south <= -90.0 or north >= 90.0:  # the circle holds a pole: every longitude
        return BoundingBox(max(south, -90.0), min(north, 90.0), -180.0, 180.0)
    ratio = math.sin(delta) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return BoundingBox(south, north, -180.0, 180.0)
    dlon = math.degrees(math.asin(ratio)) + margin
    west, east = lon - dlon, lon + dlon
    if west < -180.0:
        west += 360.0
    if east > 180.0:
        east -= 360.0
    return BoundingBox(south, north, west, east)


def window_open(days: int | None, start_min: int | None, end_min: int | None, local: datetime) -> bool:
    """Whether a weekly window (days bitmask Monday=1..Sunday=64, local minutes) holds `local`."""
    if days is None and start_min is None and end_min is None:
        return True
    minute = local.hour * 60 + local.minute
    today = 1 << local.weekday()
    yesterday = 1 << ((local.weekday() - 1) % 7)
    mask = 127 if days is None else days
    if start_min is None or end_min is None:
        return bool(mask & today)
    if start_min <= end_min:
        return bool(mask & today) and start_min <= minute < end_min
    # Runs past midnight: it belongs to the day it starts.
    return (bool(mask & today) and minute >= start_min) or (bool(mask & yesterday) and minute < end_min)


def _check_request(lat: float, lon: float, radius_m: float, at: datetime) -> None:
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lat, lon, radius_m)):
        raise SelectionError("latitude, longitude and radius must be finite numbers")
    if not -90.0 <= lat <= 90.0 or not -180.0 <= lon <= 180.0:
        raise SelectionError(f"point ({lat}, {lon}) is not a valid latitude/longitude")
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise SelectionError(f"radius must be between 0 and {MAX_RADIUS_M:.0f} m, got {radius_m}")
    if at.tzinfo is None:
        raise SelectionError("the selection moment must be timezone-aware")


def _parse_channels(channels: Iterable[str] | None) -> frozenset[Channel]:
    if channels is None:
        return frozenset(Channel)
    parsed = set()
    for name in channels:
        try:
            parsed.add(Channel(name))
        except ValueError:
            raise SelectionError(f"unknown channel {name!r}; expected one of: voice, sms, email") from None
    return frozenset(parsed)


# Candidate row, as read from the database (one per address):
# (address_id, participant_id, lat, lon, window_days, window_start_min, window_end_min,
#  voice_landlines, voice_mobiles, sms_mobiles, email)
# where the last four are the participant's verified contact points for the channels they
# chose, comma-separated, or None.
CandidateRow = Sequence


def recipients_from_rows(
    rows: Iterable[CandidateRow],
    lat: float,
    lon: float,
    radius_m: float,
    at: datetime,
    channels: Iterable[str] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[Recipient]:
    """Turn candidate rows into the ordered, de-duplicated recipients (pure; see module doc)."""
    _check_request(lat, lon, radius_m, at)
    wanted = _parse_channels(channels)
    want_voice = Channel.VOICE in wanted
    want_sms = Channel.SMS in wanted
    want_email = Channel.EMAIL in wanted
    local = at.astimezone(ZoneInfo(timezone))
    windows: dict[tuple, bool] = {}

    # haversine_m, inlined: this loop runs once per address of every wave (its tests compare).
    sin, cos, asin, sqrt, radians = math.sin, math.cos, math.asin, math.sqrt, math.radians
    phi0 = radians(lat)
    cos_phi0 = cos(phi0)
    two_r = 2 * EARTH_RADIUS_M

    # Per channel: target -> best (distance, participant, address, rank, target, kind).
    # A participant reached from two addresses offers the same targets twice: the nearest wins.
    voice_best: dict[str, tuple] = {}
    sms_best: dict[str, tuple] = {}
    email_best: dict[str, tuple] = {}
    landline, mobile = PhoneKind.LANDLINE.value, PhoneKind.MOBILE.value
    for aid, pid, alat, alon, wdays, wstart, wend, landlines, mobiles, sms_mobiles, email in rows:
        phi = radians(alat)
        h = sin((phi - phi0) / 2) ** 2 + cos_phi0 * cos(phi) * sin(radians(alon - lon) / 2) ** 2
        dist = two_r * asin(min(1.0, sqrt(h)))
        if dist > radius_m:
            continue
        if wdays is not None or wstart is not None or wend is not None:
            key = (wdays, wstart, wend)
            is_open = windows.get(key)
            if is_open is None:
                is_open = windows[key] = window_open(wdays, wstart, wend, local)
            if not is_open:
                continue
        if want_voice:
            for numbers, kind in ((landlines, landline), (mobiles, mobile)):
                if numbers:
                    for e164 in numbers.split(","):
                        current = voice_best.get(e164)
                        if current is None or (dist, pid, aid) < current[:3]:
                            voice_best[e164] = (dist, pid, aid, 0, e164, kind)
        if want_sms and sms_mobiles:
            for e164 in sms_mobiles.split(","):
                current = sms_best.get(e164)
                if current is None or (dist, pid, aid) < current[:3]:
                    sms_best[e164] = (dist, pid, aid, 1, e164, mobile)
        if want_email and email:
            key = email.lower()
            current = email_best.get(key)
            if current is None or (dist, pid, aid) < current[:3]:
                email_best[key] = (dist, pid, aid, 2, email, None)

    ordered = [*voice_best.values(), *sms_best.values(), *email_best.values()]
    ordered.sort()
    channel_of = (Channel.VOICE, Channel.SMS, Channel.EMAIL)
    kinds = _PHONE_KINDS
    return [
        _recipient(pid, aid, channel_of[rank], target, kinds.get(kind), dist)
        for dist, pid, aid, rank, target, kind in ordered
    ]


_new_object = object.__new__
_set_attribute = object.__setattr__


def _recipient(participant_id, address_id, channel, target, phone_kind, distance_m) -> Recipient:
    """The same object as Recipient(...), built in one step: a wave holds tens of thousands."""
    recipient = _new_object(Recipient)
    _set_attribute(
        recipient,
        "__dict__",
        {
            "participant_id": participant_id,
            "address_id": address_id,
            "channel": channel,
            "target": target,
            "phone_kind": phone_kind,
            "distance_m": distance_m,
        },
    )
    return recipient


def count_by_channel(recipients: Iterable[Recipient]) -> dict[str, int]:
    """How many deliveries per channel: {"voice": n, "sms": n, "email": n}."""
    counts = {channel.value: 0 for channel in Channel}
    for recipient in recipients:
        counts[recipient.channel.value] += 1
    return counts


# --- reading candidates --------------------------------------------------------------------

REACHABLE_SQL = """
    {p}status IN ('active', 'paused')
    AND ({p}paused_until <= :at OR ({p}paused_until IS NULL AND {p}status = 'active'))"""


def lon_condition_sql(box: BoundingBox, column: str, west: str = ":west", east: str = ":east") -> str:
    if box.crosses_antimeridian:
        return f"({column} >= {west} OR {column} <= {east})"
    return f"{column} BETWEEN {west} AND {east}"


def circle_condition_sql(prefix: str = "") -> str:
    lat, lon = f"{prefix}lat", f"{prefix}lon"
    return f"(({lat} - :lat0) * ({lat} - :lat0) + :lon_scale * ({lon} - :lon0) * ({lon} - :lon0)) <= :reach"


def circle_prefilter_params(lat: float, lon: float, radius_m: float, box: BoundingBox) -> dict | None:
    """Parameters of a flat-earth test that only drops points surely outside the circle.

    It drops the corners of the box in SQL. The longitude scale is taken at the box's
    latitude farthest from the equator, which shrinks east-west distances, and the reach has
    a 0.1% margin: a point within the radius by the exact (haversine) distance always passes.
    Not used for circles that are huge, touch a pole or cross the 180th meridian.
    """
    if radius_m > 100_000 or box.crosses_antimeridian or (box.west, box.east) == (-180.0, 180.0):
        return None
    far = max(abs(box.south), abs(box.north))
    reach = math.degrees(radius_m / EARTH_RADIUS_M) * 1.001 + 1e-6
    return {
        "lat0": lat,
        "lon0": lon,
        "lon_scale": math.cos(math.radians(far)) ** 2,
        "reach": reach * reach,
    }


def _cell(degrees: float, offset: float) -> int:
    """The grid cell of a coordinate, exactly as the SQL of the grid computes it."""
    return int((degrees + offset) * CELLS_PER_DEGREE)


def _grid_query(box: BoundingBox, circle: bool = False):
    """Range scans over the grid cells the box touches, then the exact box (both databases)."""
    lat_cells = ", ".join(str(c) for c in range(_cell(box.south, 90.0), _cell(box.north, 90.0) + 1))
    west_cell, east_cell = _cell(box.west, 180.0), _cell(box.east, 180.0)
    sql = f"""
        SELECT address_id, participant_id, lat, lon, window_days, window_start_min,
               window_end_min, voice_landlines, voice_mobiles, sms_mobiles, email
        FROM {GRID_TABLE}
        WHERE lat_cell IN ({lat_cells})
          AND {lon_condition_sql(box, "lon_cell", str(west_cell), str(east_cell))}
          AND lat BETWEEN :south AND :north
          AND {lon_condition_sql(box, "lon")}
          AND {circle_condition_sql() if circle else "1 = 1"}
          AND {REACHABLE_SQL.format(p="")}"""
    return text(sql).bindparams(bindparam("at", type_=UTCDateTime()))


def _scan_query(dialect: str):
    """Every geocoded address joined to its participant and phones: the full-scan baseline."""
    aggregate = "group_concat" if dialect == "sqlite" else "string_agg"
    sql = f"""
        SELECT a.id, a.participant_id, a.lat, a.lon, a.window_days, a.window_start_min,
               a.window_end_min, {contact_columns(dialect, "ph")}
        FROM address AS a
        JOIN participant AS p ON p.id = a.participant_id
        LEFT JOIN (
            SELECT participant_id,
                   {aggregate}(CASE WHEN kind = 'landline' THEN e164 END, ',') AS landlines,
                   {aggregate}(CASE WHEN kind = 'mobile' THEN e164 END, ',') AS mobiles
              FROM phone_number WHERE verified GROUP BY participant_id) AS ph
            ON ph.participant_id = a.participant_id
        WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL
          AND {REACHABLE_SQL.format(p="p.")}"""
    return text(sql).bindparams(bindparam("at", type_=UTCDateTime()))


def _candidate_query(dialect: str, box: BoundingBox, circle: bool = False):
    return _grid_query(box, circle)


def candidate_rows(
    session: Session, lat: float, lon: float, radius_m: float, at: datetime
) -> Sequence[Row[Any]]:
    """One row per address inside the circle's bounding box, read through the spatial index."""
    box = bounding_box(lat, lon, radius_m)
    prefilter = circle_prefilter_params(lat, lon, radius_m, box)
    query = _candidate_query(session.get_bind().dialect.name, box, prefilter is not None)
    params = {"south": box.south, "north": box.north, "west": box.west, "east": box.east, "at": at}
    params.update(prefilter or {})
    try:
        return session.execute(query, params).all()
    except (OperationalError, ProgrammingError) as exc:
        if GRID_TABLE in str(exc.orig):
            raise SelectionError(
                f"the selection index {GRID_TABLE} is missing: run `burgernet db upgrade`"
            ) from exc
        raise


def select_recipients(
    session: Session,
    lat: float,
    lon: float,
    radius_m: float,
    at: datetime,
    channels: Iterable[str] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[Recipient]:
    """Every reachable contact point inside the circle at moment `at`, nearest first;
    address time windows are read in `timezone` (the platform's, settings.timezone)."""
    _check_request(lat, lon, radius_m, at)
    with _cyclic_gc_paused():
        rows = candidate_rows(session, lat, lon, radius_m, at)
        return recipients_from_rows(rows, lat, lon, radius_m, at, channels, timezone)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a selection runs.

    A selection allocates tens of thousands of short-lived tuples; the collections they
    trigger walk the whole heap of the process and cost more than the selection itself
    (measured: about 40% of the time in a 12,000-recipient circle). Nothing made here forms
    a cycle, and reference counting frees everything as usual. Safe with threads: only the
    caller that found the collector enabled turns it back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan_recipients(
    session: Session,
    lat: float,
    lon: float,
    radius_m: float,
    at: datetime,
    channels: Iterable[str] | None = None,
) -> list[Recipient]:
    """The same selection by a full scan of every geocoded address: the benchmark's baseline."""
    _check_request(lat, lon, radius_m, at)
    query = _scan_query(session.get_bind().dialect.name).execution_options(yield_per=50_000)
    rows = session.execute(query, {"at": at})  # streamed: the whole table never sits in memory
    return recipients_from_rows(rows, lat, lon, radius_m, at, channels)
