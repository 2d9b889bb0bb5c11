"""Helpers for the browser tests (imported by conftest.py and the test modules):
Chromium's path and flags, the live app's description, quick training settings, log-in and
screenshots. Import from here, not from `conftest` (that module name is shared by every folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT, Settings
from db.database import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PASSWORD = "burgernet-demo"


@dataclass
class LiveApp:
    base_url: str
    app: object
    db: Database
    settings: Settings
    worker: object | None

    def url(self, path: str) -> str:
        return self.base_url + path


def fast_training_settings(tmp_path: Path) -> Settings:
    """Training mode with a quick simulated network, so a wave runs in seconds of real time."""
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'browser.sqlite3'}",
        instance_path=tmp_path / "instance",
        secret_key="browser-test-secret",
        pdok_base_url="",
    )
    settings.web.map_tiles_url = ""  # no network: the page must work without tiles
    settings.web.live_interval_s = 0.5
    settings.quiet_hours_start = None
    settings.quiet_hours_end = None
    settings.dialer.cps = 20.0
    settings.dialer.channels = 20
    settings.dialer.poll_interval_s = 0.1
    sim = settings.dialer.simulator
    sim.answer_rate, sim.busy_rate, sim.no_answer_rate = 0.8, 0.05, 0.05
    sim.failure_rate, sim.machine_rate = 0.05, 0.05
    sim.ring_mean_s, sim.listen_mean_s = 1.0, 2.0
    return settings


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, live_app: LiveApp, username: str, password: str = PASSWORD) -> None:
    page.goto(live_app.url("/login"))
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(live_app.url("/"))
