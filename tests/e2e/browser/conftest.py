"""Browser test harness: the real app on a real server thread, the dialer on the simulator,
and Debian's Chromium driven by Playwright (never `playwright install`).

Fixtures other browser tests reuse:
- `live_app`: a `LiveApp` (base_url, app, db, settings, worker thread), SQLite in tmp_path,
  seeded with the demo logins (centralist / supervisor / admin, password burgernet-demo) of
  "Meldkamer Haaglanden", a small population around Delft's Markt and a gazetteer row;
- `browser` (session), `page` (fresh context per test, screenshots under test-artifacts/);
- `login(page, live_app, username)`; `screenshot(page, name)`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.clock import SystemClock
from config.settings import PROJECT_ROOT, Settings
from db.database import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
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


@pytest.fixture
def live_app(tmp_path):
    from werkzeug.serving import make_server

    from app import create_app
    from dialer.simulator import SimulatedNetwork, SimulatedSender
    from dialer.worker import DialerWorker
    from seed_console import seed_everything

    settings = fast_training_settings(tmp_path)
    app = create_app(settings)
    db: Database = app.extensions["burgernet.db"]
    db.upgrade()
    seed_everything(db)
    clock = SystemClock()
    app.extensions["burgernet.clock"] = clock

    server = make_server("127.0.0.1", 0, app, threaded=True)
    server_thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    server_thread.start()

    network = SimulatedNetwork(clock, settings.dialer.simulator, threaded=True)
    worker = DialerWorker(db, network, clock, settings,
                          senders={"sms": SimulatedSender("sms"), "email": SimulatedSender("email")})
    stop = threading.Event()
    worker_thread = threading.Thread(target=worker.run, args=(stop,), name="browser-test-dialer", daemon=True)
    worker_thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", app, db, settings, worker)
    finally:
        stop.set()
        worker.wake.set()
        worker_thread.join(timeout=10)
        server.shutdown()
        server_thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup --test)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam",
                                  viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


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
