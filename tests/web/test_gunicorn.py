"""The production web tier for real: gunicorn with web.wsgi:app and web/gunicorn_conf.py,
configured only through the environment (issue 12, item 1)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from config.settings import PROJECT_ROOT
from db.heartbeats import recent

STRONG = "s" * 16 + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_env(tmp_path, database_url):
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": database_url,
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_PHONE_BACKEND": "twilio",
        "BURGERNET_SECRET_KEY": STRONG,
        "BURGERNET_TWILIO__AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
        "BURGERNET_TWILIO__PUBLIC_BASE_URL": "https://burgernet.example.nl",
        "BURGERNET_PORTAL__PUBLIC_BASE_URL": "https://burgernet.example.nl",
        "BURGERNET_WEB__SESSION_COOKIE_SECURE": "true",
        "BURGERNET_OPS__WEB_HEARTBEAT_S": "0.5",
        "BURGERNET_OPS__LOG_FORMAT": "json",
    }


def _gunicorn(env: dict, cwd, port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "web" / "gunicorn_conf.py"),
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2", "web.wsgi:app",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_until(predicate, tries: int = 150):
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_gunicorn_serves_the_app_and_each_worker_beats(production_env, tmp_path, db):
    port = _free_port()
    server = _gunicorn(production_env, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy():
            try:
                return requests.get(base + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return server.poll() is not None  # died: stop waiting

        assert _wait_until(healthy) and server.poll() is None
        assert requests.get(base + "/login", timeout=5).status_code == 200
        # enough requests that both workers serve one (each starts beating on its first request)
        for _ in range(40):
            requests.get(base + "/healthz", timeout=5)
        beating = _wait_until(lambda: len({p.pid for p in recent(db) if p.role == "web" and p.alive}) == 2)
        assert beating
        ready = requests.get(base + "/readyz", timeout=5).json()
        assert not ready["ready"] and ready["reasons"] == ["geen actieve kiezer voor twilio"]
        assert sum(p["role"] == "web" for p in ready["processes"]) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    # a worker that exits says so (gunicorn's worker_exit hook)
    assert _wait_until(lambda: all(p.status == "stopped" for p in recent(db) if p.role == "web"), tries=25)
    assert "Traceback" not in output


def test_gunicorn_refuses_to_start_on_a_default_secret(production_env, tmp_path):
    env = {**production_env, "BURGERNET_SECRET_KEY": "burgernet"}
    server = _gunicorn(env, tmp_path, _free_port())
    output, _ = server.communicate(timeout=120)
    assert server.returncode != 0
    assert "BURGERNET_SECRET_KEY" in output and "refusing to start" in output
