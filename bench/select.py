"""Benchmark of circle selection at national scale: `burgernet bench select`.

It generates a synthetic population clustered like Dutch cities (each city a Gaussian blob
sized by its population, plus a wider regional spread around it), bulk-inserts it (executemany
on SQLite, COPY on PostgreSQL), then times `select_recipients` (the selection grid) for a 2 km
circle in the centre of Delft against, on the same data in the same run:
- `scan_recipients`, the same selection reading every address (no index): `speedup`;
- the standard answer, a bounding box on the schema's B-tree `ix_address_lat_lon (lat, lon)`
  with the same flat-earth circle test the grid query uses, then the participant and its
  verified phones per address: `speedup_vs_btree`. EXPLAIN checks that the index is used
  (`btree_index_used`, `btree_plan`);
- on SQLite, an R*Tree over the coordinates (`address_rtree`, the index of the first version),
  joined the same way: `speedup_vs_rtree`;
- on PostgreSQL with PostGIS, `ST_DWithin` on a GiST index over the addresses' geography
  points, joined the same way: `speedup_vs_postgis`; when the extension cannot be created,
  `postgis` says why ("not available: ...").
Every baseline must return exactly the grid's recipients, or the run fails.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import bindparam, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InternalError, NotSupportedError, OperationalError, ProgrammingError

from db.database import Database
from db.models import Participant
from db.types import UTCDateTime
from participants.selection import (
    REACHABLE_SQL,
    BoundingBox,
    bounding_box,
    circle_condition_sql,
    circle_prefilter_params,
    count_by_channel,
    lon_condition_sql,
    recipients_from_rows,
    scan_recipients,
    select_recipients,
)
from participants.spatial_index import (
    GRID_TABLE,
    RTREE_TABLE,
    contact_columns,
    create_sqlite_grid_triggers,
    create_sqlite_rtree,
    drop_sqlite_grid_triggers,
    rebuild_sqlite_grid,
)
from participants.spatial_index_pg import (
    create_pg_grid_triggers,
    drop_pg_grid_triggers,
    rebuild_pg_grid,
)

DELFT_CENTRE = (52.0116, 4.3571)
# Wednesday 25 November 2026, 14:00 in Delft: work addresses count, nobody is asleep.
BENCH_MOMENT = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float
    population: int
    sigma_km: float
    area_code: str


# Name, centre, inhabitants (rounded), spread of the built-up area, area code.
CITIES = [
    City("Amsterdam", 52.3728, 4.8936, 930_000, 4.5, "20"),
    City("Rotterdam", 51.9225, 4.4792, 660_000, 4.5, "10"),
    City("Den Haag", 52.0786, 4.2887, 560_000, 3.5, "70"),
    City("Utrecht", 52.0907, 5.1214, 370_000, 3.5, "30"),
    City("Eindhoven", 51.4416, 5.4697, 240_000, 3.0, "40"),
    City("Groningen", 53.2194, 6.5665, 235_000, 2.5, "50"),
    City("Tilburg", 51.5555, 5.0913, 225_000, 2.5, "13"),
    City("Almere", 52.3508, 5.2647, 220_000, 3.0, "36"),
    City("Breda", 51.5719, 4.7683, 185_000, 2.5, "76"),
    City("Nijmegen", 51.8126, 5.8372, 180_000, 2.5, "24"),
    City("Apeldoorn", 52.2112, 5.9699, 165_000, 2.5, "55"),
    City("Arnhem", 51.9851, 5.8987, 165_000, 2.5, "26"),
    City("Haarlem", 52.3874, 4.6462, 165_000, 2.0, "23"),
    City("Enschede", 52.2215, 6.8937, 160_000, 2.5, "53"),
    City("Amersfoort", 52.1561, 5.3878, 160_000, 2.5, "33"),
    City("Zaanstad", 52.4559, 4.8286, 160_000, 2.5, "75"),
    City("'s-Hertogenbosch", 51.6978, 5.3037, 160_000, 2.5, "73"),
    City("Zwolle", 52.5168, 6.0830, 130_000, 2.0, "38"),
    City("Leiden", 52.1601, 4.4970, 125_000, 1.8, "71"),
    City("Zoetermeer", 52.0575, 4.4931, 125_000, 2.0, "79"),
    City("Leeuwarden", 53.2012, 5.7999, 125_000, 2.0, "58"),
    City("Maastricht", 50.8514, 5.6910, 120_000, 2.0, "43"),
    City("Dordrecht", 51.8133, 4.6901, 120_000, 2.0, "78"),
    City("Ede", 52.0405, 5.6649, 118_000, 3.0, "318"),
    City("Westland", 51.9900, 4.2200, 110_000, 4.0, "174"),
    City("Alkmaar", 52.6324, 4.7534, 110_000, 2.0, "72"),
    City("Emmen", 52.7858, 6.8976, 107_000, 3.0, "591"),
    City("Delft", 52.0116, 4.3571, 105_000, 3.5, "15"),
    City("Deventer", 52.2550, 6.1639, 100_000, 2.0, "570"),
    City("Venlo", 51.3704, 6.1724, 100_000, 2.5, "77"),
    City("Helmond", 51.4793, 5.6570, 92_000, 2.0, "492"),
    City("Oss", 51.7650, 5.5180, 92_000, 2.5, "412"),
    City("Amstelveen", 52.3114, 4.8701, 92_000, 1.8, "20"),
    City("Purmerend", 52.5050, 4.9597, 92_000, 1.8, "299"),
    City("Hilversum", 52.2292, 5.1669, 90_000, 2.0, "35"),
    City("Heerlen", 50.8882, 5.9795, 87_000, 2.0, "45"),
    City("Schiedam", 51.9192, 4.3989, 80_000, 1.5, "10"),
    City("Lelystad", 52.5185, 5.4714, 80_000, 2.5, "320"),
    City("Roosendaal", 51.5308, 4.4653, 77_000, 2.0, "165"),
    City("Gouda", 52.0115, 4.7104, 75_000, 1.5, "182"),
    City("Vlaardingen", 51.9125, 4.3419, 74_000, 1.5, "10"),
    City("Spijkenisse", 51.8450, 4.3290, 73_000, 1.5, "181"),
    City("Assen", 52.9925, 6.5649, 69_000, 2.0, "592"),
    City("Rijswijk", 52.0363, 4.3250, 55_000, 1.2, "70"),
    City("Middelburg", 51.4988, 3.6109, 49_000, 1.5, "118"),
]
URBAN_SHARE = 0.75  # the rest lives in the villages and suburbs around each city
REGIONAL_SIGMA_KM = 15.0
KM_PER_DEG_LAT = 111.195

PARTICIPANT_COLUMNS = (
    "id",
    "external_ref",
    "name",
    "birth_year",
    "email",
    "email_verified",
    "channels",
    "status",
    "paused_until",
    "source",
    "consent_at",
    "created_at",
    "updated_at",
)
ADDRESS_COLUMNS = (
    "id",
    "participant_id",
    "kind",
    "postcode",
    "house_number",
    "house_number_addition",
    "street",
    "municipality",
    "lat",
    "lon",
    "geocode_status",
    "geocode_error",
    "window_days",
    "window_start_min",
    "window_end_min",
    "created_at",
    "updated_at",
)
PHONE_COLUMNS = (
    "id",
    "participant_id",
    "e164",
    "kind",
    "verified",
    "verified_at",
    "created_at",
    "updated_at",
)
CHANNEL_CHOICES = [
    (json.dumps(["voice"]), 45),
    (json.dumps(["sms"]), 25),
    (json.dumps(["voice", "sms"]), 10),
    (json.dumps(["voice", "email"]), 10),
    (json.dumps(["sms", "email"]), 5),
    (json.dumps(["email"]), 5),
]


@dataclass
class Batch:
    participants: list[tuple]
    addresses: list[tuple]
    phones: list[tuple]


def _jitter(rng: random.Random, lat: float, lon: float, sigma_km: float) -> tuple[float, float]:
    d_lat = rng.gauss(0.0, sigma_km) / KM_PER_DEG_LAT
    d_lon = rng.gauss(0.0, sigma_km) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + d_lat, lon + d_lon


def generate_population(n: int, seed: int = 2008, batch_size: int = 50_000) -> Iterator[Batch]:
    """Deterministic rows for `n` participants, in batches, ids from 1."""
    rng = random.Random(seed)
    weights = [c.population for c in CITIES]
    channel_values = [c for c, _ in CHANNEL_CHOICES]
    channel_weights = [w for _, w in CHANNEL_CHOICES]
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    paused_until = stamp + timedelta(days=3650)
    address_id = phone_id = 0
    batch = Batch([], [], [])
    previous_home: tuple | None = None
    for pid in range(1, n + 1):
        household = previous_home is not None and rng.random() < 0.12
        if household:
            city, lat, lon, postcode, number, landline = previous_home
        else:
            city = rng.choices(CITIES, weights)[0]
            sigma = city.sigma_km if rng.random() < URBAN_SHARE else REGIONAL_SIGMA_KM
            lat, lon = _jitter(rng, city.lat, city.lon, sigma)
            digits4 = 1000 + rng.randrange(9000)  # the same draws in the same order as ever
            postcode = f"{digits4}{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}"
            number = 1 + rng.randrange(300)
            digits = 9 - len(city.area_code)
            landline = f"+31{city.area_code}{pid % 10**digits:0{digits}d}"
        roll = rng.random()
        status = "opted_out" if roll < 0.02 else "paused" if roll < 0.04 else "active"
        channels = rng.choices(channel_values, channel_weights)[0]
        has_email = "email" in channels or rng.random() < 0.3
        batch.participants.append(
            (
                pid,
                f"bench-{pid}",
                f"Deelnemer {pid}",
                1940 + rng.randrange(68),
                f"deelnemer{pid}@bench.invalid" if has_email else None,
                rng.random() < 0.9,
                channels,
                status,
                paused_until if status == "paused" and rng.random() < 0.5 else None,
                "bench",
                stamp,
                stamp,
                stamp,
            )
        )
        address_id += 1
        batch.addresses.append(
            (
                address_id,
                pid,
                "home",
                postcode,
                number,
                "",
                None,
                city.name,
                lat,
                lon,
                "ok",
                None,
                None,
                None,
                None,
                stamp,
                stamp,
            )
        )
        if rng.random() < 0.15:
            address_id += 1
            wlat, wlon = _jitter(rng, lat, lon, 6.0)
            batch.addresses.append(
                (
                    address_id,
                    pid,
                    "work",
                    postcode,
                    number,
                    "",
                    None,
                    city.name,
                    wlat,
                    wlon,
                    "ok",
                    None,
                    0b0011111,
                    8 * 60,
                    18 * 60,
                    stamp,
                    stamp,
                )
            )
        kinds = rng.random()
        if household or kinds < 0.6:  # landline (a household shares one)
            phone_id += 1
            batch.phones.append(
                (phone_id, pid, landline, "landline", rng.random() < 0.95, None, stamp, stamp)
            )
        if kinds >= 0.3:
            phone_id += 1
            batch.phones.append(
                (phone_id, pid, f"+316{pid:08d}", "mobile", rng.random() < 0.95, None, stamp, stamp)
            )
        previous_home = (city, lat, lon, postcode, number, landline)
        if len(batch.participants) >= batch_size:
            yield batch
            batch = Batch([], [], [])
    if batch.participants:
        yield batch


# --- bulk loading ----------------------------------------------------------------------------


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


_BULK_TABLES = ("participant", "address", "phone_number")


def load_sqlite(db: Database, batches: Iterator[Batch], progress) -> None:
    """executemany with the secondary indexes and the grid triggers set aside, then rebuilt."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        # A scratch database: durability is not needed while loading.
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-400000")
        marks = ", ".join("?" * len(_BULK_TABLES))
        indexes = cur.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            _BULK_TABLES,
        ).fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        with db.engine.begin() as conn:
            drop_sqlite_grid_triggers(conn)
        for batch in batches:
            for table, columns, rows in (
                ("participant", PARTICIPANT_COLUMNS, batch.participants),
                ("address", ADDRESS_COLUMNS, batch.addresses),
                ("phone_number", PHONE_COLUMNS, batch.phones),
            ):
                marks = ", ".join("?" * len(columns))
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    ([_sqlite_value(v) for v in row] for row in rows),
                )
            raw.commit()
            progress(len(batch.participants))
        for _, sql in indexes:
            cur.execute(sql)
        raw.commit()
    finally:
        raw.close()
    with db.engine.begin() as conn:
        rebuild_sqlite_grid(conn)
        create_sqlite_grid_triggers(conn)
        conn.exec_driver_sql("ANALYZE")


def _naive_utc(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def load_postgresql(db: Database, batches: Iterator[Batch], progress) -> None:
    """COPY with the secondary indexes and the grid triggers set aside, then rebuilt."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes AS i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)",
            ([*_BULK_TABLES, GRID_TABLE],),
        )
        indexes = cur.fetchall()
        for _, name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        raw.commit()
        with db.engine.begin() as conn:
            drop_pg_grid_triggers(conn)
        for batch in batches:
            for table, columns, rows in (
                ("participant", PARTICIPANT_COLUMNS, batch.participants),
                ("address", ADDRESS_COLUMNS, batch.addresses),
                ("phone_number", PHONE_COLUMNS, batch.phones),
            ):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([_naive_utc(v) for v in row])
            raw.commit()
            progress(len(batch.participants))
        for table, _, definition in indexes:
            if table != GRID_TABLE:
                cur.execute(definition)
        for table in _BULK_TABLES:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        cur.execute("ANALYZE participant, address, phone_number")
        raw.commit()
    finally:
        raw.close()
    with db.engine.begin() as conn:
        rebuild_pg_grid(conn)
        for table, _, definition in indexes:
            if table == GRID_TABLE:
                conn.exec_driver_sql(definition)
        create_pg_grid_triggers(conn)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # The visibility map lets the covering index answer without visiting the table.
        conn.exec_driver_sql(f"VACUUM ANALYZE {GRID_TABLE}")


# --- timing ----------------------------------------------------------------------------------


def _timed(fn, runs: int) -> tuple[list[float], list[float], object]:
    """Wall-clock and CPU milliseconds of this process, per run (the machine may be shared)."""
    times, cpu_times, result = [], [], None
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1000.0)
        cpu_times.append((time.process_time() - cpu_start) * 1000.0)
    return times, cpu_times, result


# --- baselines: the standard spatial indexes, joined like the scan -------------------------
#
# Each baseline finds the addresses near the circle through one index, then reads each
# address's participant (primary key) and that participant's verified phones (the index on
# phone_number.participant_id), one aggregate per participant. The reachability rule, the
# bounding box and the flat-earth circle test are the selection's own (participants.selection),
# so the baselines answer the same question with the same SQL conditions as the grid query;
# `recipients_from_rows` then makes the exact cut in Python, as for the grid.

BTREE_INDEX = "ix_address_lat_lon"  # db.models.Address, migration 0001
POSTGIS_INDEX = "address_geography_gist"
_POSTGIS_POINT = "geography(ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326))"


def _joined_sql(dialect: str, near: str, source: str = "address AS a") -> str:
    """Addresses from `source` that satisfy `near`, with the participant's contact points."""
    aggregate = "group_concat" if dialect == "sqlite" else "string_agg"
    return f"""
        WITH near AS (
            SELECT a.id, a.participant_id, a.lat, a.lon, a.window_days, a.window_start_min,
                   a.window_end_min
            FROM {source}
            WHERE {near}
        ), ph AS (
            SELECT participant_id,
                   {aggregate}(CASE WHEN kind = 'landline' THEN e164 END, ',') AS landlines,
                   {aggregate}(CASE WHEN kind = 'mobile' THEN e164 END, ',') AS mobiles
              FROM phone_number
             WHERE verified AND participant_id IN (SELECT participant_id FROM near)
             GROUP BY participant_id
        )
        SELECT near.id, near.participant_id, near.lat, near.lon, near.window_days,
               near.window_start_min, near.window_end_min, {contact_columns(dialect, "ph")}
        FROM near
        JOIN participant AS p ON p.id = near.participant_id
        LEFT JOIN ph ON ph.participant_id = near.participant_id
        WHERE {REACHABLE_SQL.format(p="p.")}"""


def btree_sql(dialect: str, box: BoundingBox, circle: bool) -> str:
    """The bounding box on the B-tree (lat, lon): a range on lat, lon checked in the index."""
    near = (
        f"a.lat BETWEEN :south AND :north AND {lon_condition_sql(box, 'a.lon')} "
        f"AND {circle_condition_sql('a.') if circle else '1 = 1'}"
    )
    return _joined_sql(dialect, near)


def rtree_sql(box: BoundingBox, circle: bool) -> str:
    """SQLite's R*Tree (32-bit boxes, rounded outwards): overlap, then the exact box."""
    lon_overlap = (
        "(r.max_lon >= :west OR r.min_lon <= :east)"
        if box.crosses_antimeridian
        else "r.max_lon >= :west AND r.min_lon <= :east"
    )
    near = (
        f"r.max_lat >= :south AND r.min_lat <= :north AND {lon_overlap} "
        f"AND a.lat BETWEEN :south AND :north AND {lon_condition_sql(box, 'a.lon')} "
        f"AND {circle_condition_sql('a.') if circle else '1 = 1'}"
    )
    return _joined_sql("sqlite", near, f"{RTREE_TABLE} AS r JOIN address AS a ON a.id = r.id")


def postgis_sql() -> str:
    """ST_DWithin on the sphere, on the GiST index over the addresses' geography points."""
    near = (
        f"ST_DWithin({_POSTGIS_POINT.format(lon='a.lon', lat='a.lat')}, "
        f"{_POSTGIS_POINT.format(lon=':lon0', lat=':lat0')}, :reach_m, false)"
    )
    return _joined_sql("postgresql", near)


def postgis_reach_m(radius_m: float) -> float:
    """ST_DWithin's distance: the radius with a margin, so the sphere PostGIS uses (its mean
    radius) and rounding never lose a point the haversine cut in Python keeps."""
    return radius_m * 1.001 + 1.0


# How each baseline's way in shows in EXPLAIN: SQLite "SEARCH a USING INDEX ix_address_lat_lon
# (lat>? AND lat<?)"; the R*Tree as a virtual table scan with constraints (idxNum 2 and a
# non-empty constraint string; an unconstrained scan shows "INDEX 2:" with nothing after it);
# PostgreSQL an Index Scan or Bitmap Index Scan on the index.
INDEX_IN_PLAN = {
    "btree": re.compile(
        rf"(USING INDEX|USING COVERING INDEX|Index Scan using|Bitmap Index Scan on) {BTREE_INDEX}\b"
    ),
    "rtree": re.compile(r"SCAN r VIRTUAL TABLE INDEX 2:\S+"),
    "postgis": re.compile(rf"(Index Scan using|Bitmap Index Scan on) {POSTGIS_INDEX}\b"),
}


def index_used(name: str, plan: str) -> bool:
    """Whether the EXPLAIN text of baseline `name` goes in through its index."""
    return INDEX_IN_PLAN[name].search(plan) is not None


def way_in(plan: str) -> str:
    """The plan's access to address (or the R*Tree), costs left out: one line for the JSON."""
    lines = [re.sub(r"\s*\(cost=[^)]*\)", "", line).strip(" ->") for line in plan.splitlines()]
    hits = [
        line
        for line in lines
        if re.search(r"\b(address|ix_address_lat_lon|address_geography_gist)\b|SCAN r ", line)
        and "Cond" not in line
        and "Filter" not in line
    ]
    return "; ".join(hits[:3]) or (lines[0] if lines else "")


@dataclass
class Baseline:
    """One way to answer the selection through one index: runnable and explainable."""

    name: str
    sql: str
    params: dict

    def _bound(self, prefix: str = ""):
        return text(prefix + self.sql).bindparams(bindparam("at", type_=UTCDateTime()))

    def _used_params(self) -> dict:
        names = set(re.findall(r"(?<!:):([a-z_0-9]+)", self.sql))
        return {k: v for k, v in self.params.items() if k in names}

    def rows(self, session) -> list:
        return session.execute(self._bound(), self._used_params()).all()

    def plan(self, session) -> str:
        sqlite = session.get_bind().dialect.name == "sqlite"
        rows = session.execute(
            self._bound("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "), self._used_params()
        ).all()
        return "\n".join(str(row[-1]) for row in rows)


def baselines_for(
    dialect: str, lat: float, lon: float, radius_m: float, *, rtree: bool, postgis: bool
) -> list[Baseline]:
    """The baselines this database can run, with the parameters of one circle."""
    box = bounding_box(lat, lon, radius_m)
    prefilter = circle_prefilter_params(lat, lon, radius_m, box)
    params = {
        "south": box.south,
        "north": box.north,
        "west": box.west,
        "east": box.east,
        "at": BENCH_MOMENT,
        "lat0": lat,
        "lon0": lon,
        "reach_m": postgis_reach_m(radius_m),
        **(prefilter or {}),
    }
    circle = prefilter is not None
    out = [Baseline("btree", btree_sql(dialect, box, circle), params)]
    if rtree:
        out.append(Baseline("rtree", rtree_sql(box, circle), params))
    if postgis:
        out.append(Baseline("postgis", postgis_sql(), params))
    return out


def enable_postgis(db: Database) -> str:
    """Create PostGIS and the GiST index in the scratch database: "available", or why not."""
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    except (OperationalError, ProgrammingError, InternalError, NotSupportedError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return f"not available: {reason}"
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {POSTGIS_INDEX} ON address USING gist "
            f"(({_POSTGIS_POINT.format(lon='lon', lat='lat')}))"
        )
        conn.exec_driver_sql("ANALYZE address")
    return "available"


def enable_rtree(db: Database) -> None:
    """The R*Tree of the first version (participants.spatial_index), filled from address."""
    with db.engine.begin() as conn:
        create_sqlite_rtree(conn)


def speedup(baseline_ms: float, median_ms: float) -> float:
    """How many times faster the grid is than a baseline (medians)."""
    return round(baseline_ms / median_ms, 1) if median_ms > 0 else 0.0


def run_selection_benchmark(
    db: Database, radius_m: float, runs: int, scan_runs: int, postgis: str = ""
) -> dict:
    """Time the grid and each baseline on the same data, in interleaved rounds; every answer
    must be the grid's."""
    lat, lon = DELFT_CENTRE
    dialect = db.engine.dialect.name
    baselines = baselines_for(dialect, lat, lon, radius_m, rtree=db.is_sqlite, postgis=postgis == "available")
    figures: dict = {}
    with db.session() as session:
        grid = {"name": "grid", "fn": lambda: select_recipients(session, lat, lon, radius_m, BENCH_MOMENT)}
        ways = [grid]
        for baseline in baselines:

            def answer(baseline=baseline):
                rows = baseline.rows(session)
                return recipients_from_rows(rows, lat, lon, radius_m, BENCH_MOMENT)

            ways.append({"name": baseline.name, "fn": answer, "plan": baseline.plan(session)})
        for way in ways:  # warm the cache, each the same way
            way["fn"]()
            way["times"], way["cpu"] = [], []
        load_before = os.getloadavg()[0]
        # Rounds, each running every way once: a change in the machine's load hits all alike.
        for _ in range(runs):
            for way in ways:
                way_times, way_cpu, way["result"] = _timed(way["fn"], 1)
                way["times"] += way_times
                way["cpu"] += way_cpu
        times, cpu_times, recipients = grid["times"], grid["cpu"], grid["result"]
        for way in ways[1:]:
            name = way["name"]
            if way["result"] != recipients:
                raise click.ClickException(f"{name} baseline and the grid disagree: a bug, not a result")
            figures.update(
                {
                    f"{name}_median_ms": round(statistics.median(way["times"]), 2),
                    f"{name}_min_ms": round(min(way["times"]), 2),
                    f"{name}_median_cpu_ms": round(statistics.median(way["cpu"]), 2),
                    f"{name}_index_used": index_used(name, way["plan"]),
                    f"{name}_plan": way_in(way["plan"]),
                }
            )
        scan_times, _, scanned = _timed(
            lambda: scan_recipients(session, lat, lon, radius_m, BENCH_MOMENT), scan_runs
        )
        participants = session.scalar(select(func.count()).select_from(Participant))
        load_after = os.getloadavg()[0]
    if scanned != recipients:
        raise click.ClickException("index selection and full scan disagree: a bug, not a result")
    median, scan_median = statistics.median(times), statistics.median(scan_times)
    result = {
        "participants_in_circle": len({r.participant_id for r in recipients}),
        "participants": participants,
        "selected": len(recipients),
        "by_channel": count_by_channel(recipients),
        "radius_m": radius_m,
        "runs": runs,
        "median_ms": round(median, 2),
        "min_ms": round(min(times), 2),
        "median_cpu_ms": round(statistics.median(cpu_times), 2),  # this process only
        "load_average_1m": round(load_before, 2),
        "load_average_1m_after": round(load_after, 2),
        "scan_runs": scan_runs,
        "scan_median_ms": round(scan_median, 1),
        "speedup": speedup(scan_median, median),
    }
    for baseline in baselines:
        result[f"speedup_vs_{baseline.name}"] = speedup(figures[f"{baseline.name}_median_ms"], median)
    result.update(figures)
    if postgis:
        result["postgis"] = postgis
    return result


def _prepare_postgres_database(url: str) -> bool:
    """Create the scratch database if it does not exist; True when it was created."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
            return not exists
    finally:
        admin.dispose()


def _drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@click.command("select")
@click.option("--participants", "count", default=3_000_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--database-url",
    default="",
    help="Scratch database (default: a temporary SQLite file). A PostgreSQL database is "
    "created if missing and dropped afterwards unless --keep is given.",
)
@click.option("--radius", "radius_m", default=2000.0, show_default=True, type=click.FloatRange(1, 50_000))
@click.option("--runs", default=9, show_default=True, type=click.IntRange(1, 100))
@click.option("--scan-runs", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--keep", is_flag=True, help="Keep the generated database (reused if it matches).")
@click.option("--seed", default=2008, show_default=True, type=int)
def bench_select(count, database_url, radius_m, runs, scan_runs, keep, seed) -> None:
    """Time selection of a circle in the centre of Delft at national scale."""
    from tqdm import tqdm

    workdir = None
    if not database_url:
        workdir = tempfile.TemporaryDirectory(prefix="burgernet-bench-")
        database_url = f"sqlite:///{Path(workdir.name) / 'bench.sqlite3'}"
    created = False
    if database_url.startswith("postgresql"):
        created = _prepare_postgres_database(database_url)
    db = Database(database_url)
    try:
        db.upgrade()
        present = db.count(Participant)
        generate_s = 0.0
        if present != count:
            if present:
                raise click.ClickException(
                    f"{database_url} holds {present} participants, not {count}: give an empty database"
                )
            started = time.perf_counter()
            stderr = click.get_text_stream("stderr")
            with tqdm(total=count, unit="participants", desc="generating", file=stderr) as bar:
                loader = load_sqlite if db.is_sqlite else load_postgresql
                loader(db, generate_population(count, seed), bar.update)
            generate_s = time.perf_counter() - started
        started = time.perf_counter()
        if db.is_sqlite:
            enable_rtree(db)
            postgis = "not available: SQLite (PostGIS needs PostgreSQL)"
        else:
            postgis = enable_postgis(db)
        baseline_index_s = time.perf_counter() - started
        if db.is_postgresql:  # statistics and visibility map as autovacuum would leave them
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM ANALYZE {GRID_TABLE}, address")
        result = run_selection_benchmark(db, radius_m, runs, scan_runs, postgis)
        result["generate_s"] = round(generate_s, 1)
        result["baseline_index_s"] = round(baseline_index_s, 1)  # R*Tree or PostGIS GiST build
        result["database"] = db.engine.dialect.name
        ordered = {
            k: result[k]
            for k in (
                "participants",
                "selected",
                "median_ms",
                "scan_median_ms",
                "speedup",
                "btree_median_ms",
                "speedup_vs_btree",
                "postgis",
                "database",
            )
        }
        ordered.update(result)
        click.echo(json.dumps(ordered))
    finally:
        db.dispose()
        if workdir is not None:
            workdir.cleanup()
        elif created and not keep:
            _drop_postgres_database(database_url)
