"""The spatial index behind circle selection.

SQLite: an R*Tree virtual table `address_rtree(id, min_lat, max_lat, min_lon, max_lon)` holding
one degenerate box per geocoded address (R*Tree stores 32-bit floats, rounded outwards, so the
box always contains the exact point; the exact distance is computed afterwards). Triggers on
`address` keep it in sync. PostgreSQL: the B-tree index `ix_address_lat_lon` on (lat, lon).
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

RTREE_TABLE = "address_rtree"
RTREE_TRIGGERS = ("address_rtree_insert", "address_rtree_update", "address_rtree_delete")

_CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {RTREE_TABLE} USING rtree(id, min_lat, max_lat, min_lon, max_lon)",
    f"""CREATE TRIGGER IF NOT EXISTS address_rtree_insert AFTER INSERT ON address
        WHEN new.lat IS NOT NULL AND new.lon IS NOT NULL
        BEGIN
            INSERT INTO {RTREE_TABLE} VALUES (new.id, new.lat, new.lat, new.lon, new.lon);
        END""",
    f"""CREATE TRIGGER IF NOT EXISTS address_rtree_update AFTER UPDATE OF id, lat, lon ON address
        BEGIN
            DELETE FROM {RTREE_TABLE} WHERE id = old.id;
            INSERT INTO {RTREE_TABLE}
                SELECT new.id, new.lat, new.lat, new.lon, new.lon
                WHERE new.lat IS NOT NULL AND new.lon IS NOT NULL;
        END""",
    f"""CREATE TRIGGER IF NOT EXISTS address_rtree_delete AFTER DELETE ON address
        BEGIN
            DELETE FROM {RTREE_TABLE} WHERE id = old.id;
        END""",
    # Addresses that exist already (the table may be rebuilt on a populated database).
    f"""INSERT OR REPLACE INTO {RTREE_TABLE}
        SELECT id, lat, lat, lon, lon FROM address WHERE lat IS NOT NULL AND lon IS NOT NULL""",
]


def create_sqlite_rtree(conn: Connection) -> None:
    """Create (or repair) the R*Tree and its triggers; safe to run more than once."""
    for statement in _CREATE:
        conn.execute(text(statement))


def drop_sqlite_rtree(conn: Connection) -> None:
    for trigger in RTREE_TRIGGERS:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {RTREE_TABLE}"))


def sqlite_rtree_ready(conn: Connection) -> bool:
    """True when the R*Tree and all three triggers exist."""
    names = set(
        conn.execute(
            text("SELECT name FROM sqlite_master WHERE name LIKE 'address_rtree%'")
        ).scalars()
    )
    return RTREE_TABLE in names and set(RTREE_TRIGGERS) <= names
