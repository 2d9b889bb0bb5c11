"""Helpers for the dialer tests: a control room, actions and delivery rows made directly."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from db.database import Database
from db.models import ControlRoom


@pytest.fixture
def room(db):
    with db.session() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567")
        s.add(room)
        s.commit()
        return room


@pytest.fixture
def fresh_postgres():
    """A fresh, migrated PostgreSQL database of its own (dropped after the test), for tests that
    cut every connection to it or close it: nothing else shares it."""
    admin_url = os.environ.get("TEST_POSTGRES_URL", "")
    if not admin_url:
        pytest.skip("TEST_POSTGRES_URL not set")
    name = f"burgernet_fault_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield name, url, admin
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
