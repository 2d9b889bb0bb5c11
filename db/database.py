"""Engine and sessions. One `Database` per process, built from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

# The alembic environment and its revisions, shipped as package data of `db`.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock held while migrating (the bytes of "burgernm").
MIGRATION_LOCK_KEY = 0x6275726765726E6D


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on any error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (alembic upgrade head).

        On PostgreSQL the upgrade runs in one transaction that first takes an advisory lock, so
        `burgernet db upgrade` started on several hosts at once (each one's oneshot unit before
        its services) migrates once: the others wait, then find the schema at head.
        """
        from alembic import command

        config = alembic_config(self.url)
        if not self.is_postgresql:
            command.upgrade(config, "head")
            return
        with self.engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_is_current(self) -> bool:
        """Whether the schema is at the newest migration (false on an empty database)."""
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        heads = set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        with self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads

    def count(self, model) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    def dispose(self) -> None:
        self.engine.dispose()


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed."""
    result = cast(CursorResult, session.execute(statement))
    return result.rowcount or 0


def alembic_config(url: str):
    """The migrations' configuration, built in code: the migrations ship inside the package
    (`db/migrations/`), so an installed wheel migrates without a source checkout or an
    alembic.ini (that file, at the root of a checkout, is for developers' `alembic revision`)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg
