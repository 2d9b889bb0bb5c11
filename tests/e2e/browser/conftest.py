"""Browser test harness: the real app on a real server thread, the dialer on the simulator,
and Debian's Chromium driven by Playwright (never `playwright install`).

Fixtures other browser tests reuse:
- `live_app`: a `LiveApp` (base_url, app, db, settings, worker thread), SQLite in tmp_path,
  seeded with the demo logins (centralist / supervisor / admin, password burgernet-demo) of
  "Meldkamer Haaglanden", a small population around Delft's Markt and a gazetteer row;
- `browser` (session), `page` (fresh context per test, screenshots under test-artifacts/);
- `login(page, live_app, username)`, `screenshot(page, name)` live in browser_support.py (import them
  from there: the module name `conftest` is shared by every test folder).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from browser_support import (  # noqa: F401  (login, screenshot re-exported for older imports)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    LiveApp,
    fast_training_settings,
    login,
    screenshot,
)

from config.clock import SystemClock
from db.database import Database


@pytest.fixture
def live_app(tmp_path):
    from seed_console import seed_everything
    from werkzeug.serving import make_server

    from app import create_app
    from dialer.simulator import SimulatedNetwork, SimulatedSender
    from dialer.worker import DialerWorker

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
    worker = DialerWorker(
        db,
        network,
        clock,
        settings,
        senders={"sms": SimulatedSender("sms"), "email": SimulatedSender("email")},
    )
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
    context = browser.new_context(
        locale="nl-NL", timezone_id="Europe/Amsterdam", viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()
