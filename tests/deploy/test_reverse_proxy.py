"""deploy/nginx/burgernet.conf in front of the production web tier, both real: nginx with the
example (only its ports, certificate and upstream address changed) and gunicorn running
web.wsgi:app with the settings the example asks for (one trusted proxy, secure cookies).

Plain HTTP is redirected to HTTPS, the console is served over TLS with HSTS, and the live page's
event stream reaches the browser while it is still open (a buffering proxy would hold it back
until the stream ends, here after five minutes).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from config.settings import PROJECT_ROOT

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx not installed (apt-get install nginx-light)")

EXAMPLE = PROJECT_ROOT / "deploy" / "nginx" / "burgernet.conf"
VENV_BIN = Path(sys.executable).parent
HOST = "burgernet.example.nl"
PASSWORD = "burgernet-demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx_config(tmp_path: Path, http: int, https: int, upstream: int) -> Path:
    """The example with local ports, a throw-away certificate and its own pid, logs and temp dirs."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = EXAMPLE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/ssl/burgernet/": f"{tmp_path}/",
        "server 127.0.0.1:8000 ": f"server 127.0.0.1:{upstream} ",
    }
    for old, new in replacements.items():
        assert old in site, f"the example no longer has {old!r}"
        site = site.replace(old, new)
    (tmp_path / "burgernet.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main.write_text(
        f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n  access_log off;\n"
        + "".join(f"  {name}_temp_path {path};\n" for name, path in temp.items()).replace(
            "body_temp_path", "client_body_temp_path"
        )
        + f"  include {tmp_path}/burgernet.conf;\n}}\n"
    )
    return main


def test_nginx_accepts_the_example(tmp_path):
    config = _nginx_config(tmp_path, _free_port(), _free_port(), 8000)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _wait_until(predicate, what: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert process.poll() is None, f"{process.args[0]} ended ({process.returncode}) before {what}"
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen")


def _answers(url: str, certificate: Path) -> bool:
    try:
        requests.get(url, timeout=5, verify=str(certificate), allow_redirects=False)
    except requests.RequestException:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _burgernet(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "burgernet"), *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.e2e
def test_the_console_behind_the_example_proxy(tmp_path):
    web, http, https = _free_port(), _free_port(), _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BURGERNET_", "DATABASE_URL", "GUNICORN_"))
    }
    env |= {
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_SECRET_KEY": "reverse-proxy-test-secret-0123456789abcdef",
        "BURGERNET_WEB__TRUSTED_PROXIES": "1",
        "BURGERNET_WEB__SESSION_COOKIE_SECURE": "true",
        "BURGERNET_PORTAL__PUBLIC_BASE_URL": f"https://{HOST}",
        "BURGERNET_WEB__LIVE_STREAM_S": "300",
        "BURGERNET_OPS__READY_NEEDS_DIALER": "false",
        "GUNICORN_BIND": f"127.0.0.1:{web}",
        "GUNICORN_WORKERS": "1",
    }
    _burgernet(env, "db", "upgrade")
    _burgernet(env, "demo", "seed")
    started = _burgernet(
        env, "action", "start", "--override", "--lat", "52.0116", "--lon", "4.3571", "--radius", "300",
        "--type", "missing_child", "--description", '{"clothing": "rode jas"}', "--channels", "sms",
    )  # fmt: skip
    action_id = int(re.search(r'"action_id": (\d+)', started).group(1))
    config = _nginx_config(tmp_path, http, https, web)
    certificate = tmp_path / "fullchain.pem"
    gunicorn_log = (tmp_path / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--config", "python:web.gunicorn_conf", "web.wsgi:app"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=gunicorn_log,
    )  # fmt: skip
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_until(
            lambda: _answers(f"http://127.0.0.1:{web}/healthz", certificate), "gunicorn answering", gunicorn
        )
        _wait_until(
            lambda: _answers(f"https://127.0.0.1:{https}/healthz", certificate), "nginx answering", nginx
        )
        base = f"https://127.0.0.1:{https}"
        headers = {"Host": HOST}

        plain = requests.get(
            f"http://127.0.0.1:{http}/login", headers=headers, allow_redirects=False, timeout=10
        )
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"https://{HOST}/login"

        browser = requests.Session()
        browser.trust_env = False  # no CA bundle from the environment: the test's certificate
        browser.verify = str(certificate)
        browser.headers.update(headers)
        health = browser.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.headers["Strict-Transport-Security"].startswith("max-age=")

        page = browser.get(f"{base}/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        credentials = {"username": "centralist", "password": PASSWORD, "csrf_token": token}
        # Over https, the CSRF check also wants a Referer of the same origin: the app sees the
        # scheme and host the proxy forwarded (X-Forwarded-Proto, -Host; trusted_proxies=1).
        foreign = {"Referer": "https://elders.example.org/login"}
        refused = browser.post(f"{base}/login", data=credentials, headers=foreign, allow_redirects=False)
        assert refused.status_code == 400
        same_site = {"Referer": f"https://{HOST}/login"}
        response = browser.post(f"{base}/login", data=credentials, headers=same_site, allow_redirects=False)
        assert response.status_code == 302
        cookie = next(c for c in browser.cookies if c.name == "burgernet_session")
        assert cookie.secure  # the cookie never travels outside TLS

        # The live page's event stream: the first snapshot arrives while the stream stays open.
        with browser.get(f"{base}/actions/{action_id}/events", stream=True, timeout=(10, 60)) as stream:
            assert stream.status_code == 200
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            lines = stream.iter_lines(decode_unicode=True)
            first_event = next(line for line in lines if line.startswith("event:"))
        assert first_event == "event: progress"
    finally:
        _stop(nginx)
        _stop(gunicorn)
        gunicorn_log.close()
