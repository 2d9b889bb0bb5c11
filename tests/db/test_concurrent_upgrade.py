"""`burgernet db upgrade` started on several hosts at once (each host's oneshot unit before its
services, deploy/systemd) migrates the database once: the others wait for the lock, then find the
schema at head and succeed without touching it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from db.database import Database
from db.models import Base

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
UPGRADES = 3
BURGERNET = str(Path(sys.executable).parent / "burgernet")


@pytest.fixture
def empty_postgres_url():
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL not set")
    name = f"burgernet_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.e2e  # three processes, each importing the app: about 15 s
def test_simultaneous_upgrades_of_an_empty_postgresql_database_all_succeed(empty_postgres_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURGERNET_", "DATABASE_URL"))}
    env |= {"DATABASE_URL": empty_postgres_url, "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance")}
    upgrades = [
        subprocess.Popen(
            [BURGERNET, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(UPGRADES)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in upgrades]
    assert [process.returncode for process in upgrades] == [0] * UPGRADES, outputs
    database = Database(empty_postgres_url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(database.engine).get_table_names())
        assert database.schema_is_current()
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        database.dispose()
