"""Shared fixtures: a migrated database per test on SQLite and, when configured, PostgreSQL.

Database tests take the `db` fixture and run once per database: always SQLite, and PostgreSQL
too when TEST_POSTGRES_URL is set (scripts/test sets it when the local server answers).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from config.clock import FakeClock
from config.settings import Settings
from db.database import Database
from db.models import Base

# The fuzz suites' profiles (HYPOTHESIS_PROFILE): `ci` runs a bounded, repeatable number of
# examples per endpoint; `nightly` runs many random ones (docs/fuzzing.md).
_FUZZ = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
hypothesis_settings.register_profile("ci", max_examples=30, derandomize=True, **_FUZZ)
hypothesis_settings.register_profile("nightly", max_examples=1000, **_FUZZ)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for every test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh PostgreSQL database for this test session, migrated once."""
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL not set")
    admin_url = POSTGRES_URL
    name = f"burgernet_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "burgernet.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    db = Database(url)
    _truncate_all(db)
    db.dispose()
    return url


@pytest.fixture
def db(database_url) -> Database:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        instance_path=tmp_path / "instance",
        secret_key="test-secret",
    )


@pytest.fixture
def app(settings):
    from app import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    application.extensions["burgernet.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
