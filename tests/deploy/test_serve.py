"""`burgernet serve` is the development server: it neither migrates nor dials.

Training mode runs the production topology (web, `dialer run` on the simulator, the scheduler) as
separate processes; scripts/run starts them. The web server itself is replaced here by a stand-in
that records the app it was given, so the tests see what `serve` does before it would block.
"""

from __future__ import annotations

import threading

import pytest
import werkzeug.serving
from sqlalchemy import inspect

from app import cli
from config.settings import Settings
from db.database import Database
from db.runtime import Runtime
from tests.support.cli import RuntimeCliRunner


@pytest.fixture
def served(monkeypatch):
    calls: list[dict] = []

    def fake_run_simple(host, port, application, **kwargs):
        calls.append(
            {
                "host": host,
                "port": port,
                "app": application,
                "threads": {t.name for t in threading.enumerate()},
            }
        )

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    return calls


def _runner(settings: Settings, database: Database) -> RuntimeCliRunner:
    return RuntimeCliRunner(Runtime(settings=settings, database=database))


def test_serve_refuses_an_unmigrated_database_and_does_not_migrate_it(tmp_path, served):
    settings = Settings(_env_file=None, instance_path=tmp_path / "instance", secret_key="test-secret")
    database = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        result = _runner(settings, database).invoke(cli, ["serve"])
        assert result.exit_code != 0
        assert "burgernet db upgrade" in result.output
        assert inspect(database.engine).get_table_names() == []
        assert served == []
    finally:
        database.dispose()


def test_serve_in_training_mode_runs_the_web_app_only(db, settings, served):
    assert settings.training_mode
    threads_before = {t.name for t in threading.enumerate()}
    result = _runner(settings, db).invoke(cli, ["serve", "--port", "5123"])
    assert result.exit_code == 0, result.output
    assert "TRAININGSMODUS" in result.output
    assert "development server" in result.output
    assert "gunicorn" in result.output
    (call,) = served
    assert call["port"] == 5123
    assert call["app"].extensions["burgernet.db"] is db
    # No dialer loop or job scheduler started inside the web process.
    assert call["threads"] == threads_before
