"""Fixtures of the FastAGI tests: settings whose Asterisk folders are temporary, and a running
server on a free port (stopped after the test)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ivr.fastagi import build_server


@pytest.fixture(scope="session")
def shared_instance(tmp_path_factory) -> Path:
    """One instance folder for the audio cache, so each prompt is spoken by espeak once."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def agi_settings(settings, shared_instance, tmp_path):
    pbx = tmp_path / "pbx"
    asterisk = settings.asterisk.model_copy(
        update={"sounds_dir": str(pbx / "sounds"), "recordings_dir": str(pbx / "recordings")}
    )
    configured = settings.model_copy(update={"instance_path": shared_instance, "asterisk": asterisk})
    configured.ensure_instance_dirs()
    (pbx / "recordings").mkdir(parents=True)
    return configured


@pytest.fixture
def server(agi_settings, db, clock):
    srv = build_server(agi_settings, db, clock, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)
