"""`burgernet bench twilio`: how many Twilio webhooks a wave makes and how fast we answer them.

A wave on Twilio is driven by Twilio's requests to us: per answered call, call-status
callbacks (initiated, ringing, answered, completed) and the TwiML steps of the alert flow
(the alert, the menu, the choice). This benchmark plays Twilio for `--calls` calls at once
from `--concurrency` client threads against the real app served over HTTP, every request
signed with the real `RequestValidator` and checked (signature, replay receipt, state
machine, flow engine), on a scratch database. It prints one JSON line last: webhooks per
second, latency percentiles, and how many calls did not end completed and acknowledged.

`--server gunicorn` runs the production web tier instead of werkzeug's development server:
gunicorn with `web.wsgi:app` and web/gunicorn_conf.py (`--workers`, `--threads`), started by
the benchmark on a free port with its settings in the environment exactly as in production
(the configuration checks pass: the public URL is https, Twilio signs for that URL and the
benchmark delivers to the local port). Use PostgreSQL (`--database-url`) for it. The line
also reports the machine's load average, since client and server share its cores.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import click
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from app import create_app
from config.clock import SystemClock
from config.settings import PROJECT_ROOT, Settings, TwilioSettings
from db.database import Database
from db.models import (
    Action,
    ActionStatus,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryState,
    IncidentType,
    Participant,
    PhoneKind,
    PhoneNumber,
)
from deliveries.states import transition_many
from dialer.backends.twilio import WebhookPaths, voice_url, webhook_url

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
OUR_NUMBER = "+31851234567"
# What Twilio would call; signatures cover it. The requests go to the local server instead.
PUBLIC_BASE_URL = "https://burgernet-bench.example.nl"
SECRET_KEY = "bench-secret-key-" + "0" * 32


def _seed(db: Database, calls: int) -> list[tuple[int, str]]:
    clock = SystemClock()
    with db.transaction() as s:
        room = ControlRoom(
            name="Bench", region="Bench", transfer_target="+31703456789", callback_number=OUR_NUMBER
        )
        s.add(room)
        s.flush()
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.SUSPECT,
            voice_text="Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man met een rode jas.",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=["voice"],
            status=ActionStatus.RUNNING,
        )
        s.add(action)
        s.flush()
        rows = []
        for i in range(calls):
            number = f"+316{20000000 + i:08d}"
            participant = Participant(name=f"Bench {i}", birth_year=1980, channels=["voice"])
            participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
            s.add(participant)
            s.flush()
            delivery = Delivery(
                action_id=action.id,
                participant_id=participant.id,
                channel=Channel.VOICE,
                target=number,
                phone_kind=PhoneKind.MOBILE,
                rank=i,
                attempts=1,
                state=DeliveryState.QUEUED,
            )
            s.add(delivery)
            s.flush()
            rows.append((delivery.id, number))
        transition_many(
            s,
            [d for d, _ in rows],
            Channel.VOICE,
            DeliveryState.QUEUED,
            DeliveryState.DIALING,
            event="bench.claimed",
            clock=clock,
        )
    return rows


class TwilioPlayer:
    """Plays Twilio's side of one call: signed callbacks and the TwiML it is given."""

    def __init__(self, settings: Settings, server_base: str):
        self.settings = settings
        self.public_base = settings.twilio.public_base_url.rstrip("/")
        self.server_base = server_base.rstrip("/")
        self.validator = RequestValidator(AUTH_TOKEN)
        self.local = threading.local()  # one keep-alive connection per client thread
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def connection(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the server (plain http.client: the client
        shares the machine with the server, so it must cost as little CPU as it can)."""
        if not hasattr(self.local, "connection"):
            parts = urlsplit(self.server_base)
            self.local.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        return self.local.connection

    def post(self, url: str, params: dict) -> str:
        headers = {
            "X-Twilio-Signature": self.validator.compute_signature(url, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        path = url.removeprefix(self.public_base)
        body = urlencode(params)
        started = time.perf_counter()
        for attempt in (1, 2):
            connection = self.connection()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                text = response.read().decode()
                break
            except (ConnectionError, http.client.HTTPException):
                connection.close()  # the server closed an idle keep-alive connection: once more
                del self.local.connection
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
        if response.status >= 400:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return text

    def call(self, index: int, delivery_id: int, number: str) -> None:
        sid = f"CA{index:032x}"
        base = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": sid,
            "From": OUR_NUMBER,
            "To": number,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        status_url = webhook_url(self.settings, WebhookPaths.CALL_STATUS, delivery=delivery_id)
        for seq, status in enumerate(["initiated", "ringing", "in-progress"]):
            self.post(status_url, {**base, "CallStatus": status, "SequenceNumber": str(seq)})
        live = {**base, "CallStatus": "in-progress"}
        twiml = self.post(voice_url(self.settings, "alert", delivery=delivery_id), live)
        redirect = ET.fromstring(twiml).find("Redirect")  # the alert, then the menu
        twiml = self.post(redirect.text.strip(), live)
        gather = ET.fromstring(twiml).find("Gather")
        self.post(gather.get("action"), {**live, "Digits": "3"})  # "I will look out"
        self.post(
            status_url, {**base, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "40"}
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(settings: Settings) -> dict[str, str]:
    """The production settings of the bench, as the environment gunicorn's workers read."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": settings.database_url,
        "BURGERNET_INSTANCE_PATH": str(settings.instance_path),
        "BURGERNET_SECRET_KEY": SECRET_KEY,
        "BURGERNET_PHONE_BACKEND": "twilio",
        "BURGERNET_TWILIO__ACCOUNT_SID": ACCOUNT_SID,
        "BURGERNET_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
        "BURGERNET_TWILIO__FROM_NUMBER": OUR_NUMBER,
        "BURGERNET_TWILIO__API_BASE_URL": settings.twilio.api_base_url,
        "BURGERNET_TWILIO__PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "BURGERNET_PORTAL__PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "BURGERNET_WEB__SESSION_COOKIE_SECURE": "true",
        "BURGERNET_OPS__LOG_LEVEL": "WARNING",
    }


class GunicornServer:
    """gunicorn with the production entry point, on a free local port."""

    def __init__(self, settings: Settings, workers: int, threads: int, workdir: Path):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "gunicorn",
            "-c", str(PROJECT_ROOT / "web" / "gunicorn_conf.py"),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers),
            "--threads", str(threads),
            "web.wsgi:app",
        ]  # fmt: skip
        self.log = (workdir / "gunicorn.log").open("w+")
        # cwd outside the checkout, so no developer's .env is read
        self.process = subprocess.Popen(
            command, cwd=workdir, env=_environment(settings), stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        self.log.seek(0)
        raise click.ClickException("gunicorn did not start:\n" + self.log.read()[-3000:])

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) the workers used so far (Linux /proc; None elsewhere)."""
        try:
            pid = self.process.pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            ticks = 0
            for child in [str(pid), *children]:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            return ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def run_bench(
    calls: int,
    concurrency: int,
    database_url: str,
    server: str = "werkzeug",
    workers: int = 2,
    threads: int = 8,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="burgernet-bench-twilio-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        settings = Settings(
            _env_file=None,
            database_url=url,
            instance_path=Path(tmp) / "instance",
            secret_key=SECRET_KEY,
            phone_backend="twilio",
            twilio=TwilioSettings(
                account_sid=ACCOUNT_SID,
                auth_token=AUTH_TOKEN,
                from_number=OUR_NUMBER,
                api_base_url="http://127.0.0.1:9",
                public_base_url=PUBLIC_BASE_URL,
            ),
        )
        db = Database(settings.sqlalchemy_url)
        db.upgrade()
        rows = _seed(db, calls)
        server_cpu = lambda: None
        if server == "gunicorn":
            gunicorn = GunicornServer(settings, workers, threads, Path(tmp))
            base, stop, server_cpu = gunicorn.base, gunicorn.stop, gunicorn.cpu_s
        else:
            app = create_app(settings)
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request: too many
            httpd = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            base = f"http://127.0.0.1:{httpd.server_port}"

            def stop() -> None:
                httpd.shutdown()
                httpd.server_close()
                app.extensions["burgernet.db"].dispose()

        player = TwilioPlayer(settings, base)
        errors = 0
        load_before = os.getloadavg()
        cpu_before = os.times()
        server_cpu_before = server_cpu()
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = [pool.submit(player.call, i, d, n) for i, (d, n) in enumerate(rows)]
                for future in futures:
                    try:
                        future.result()
                    except Exception:
                        errors += 1
            wall = time.perf_counter() - started
            cpu_after = os.times()
            server_cpu_after = server_cpu()
            load_after = os.getloadavg()
        finally:
            stop()
        with db.session() as s:
            done = (
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.state == DeliveryState.COMPLETED, Delivery.acknowledged.is_(True))
                )
                or 0
            )
        db.dispose()
        latencies = sorted(player.latencies)
        client_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        server_cpu_s = (
            server_cpu_after - server_cpu_before
            if server_cpu_after is not None and server_cpu_before is not None
            else None
        )
        return {
            "server": server if server == "werkzeug" else f"gunicorn {workers}x{threads}",
            "calls": calls,
            "concurrency": concurrency,
            "webhooks": len(latencies),
            "webhooks_per_call": round(len(latencies) / calls, 2) if calls else 0,
            "wall_s": round(wall, 3),
            "webhooks_per_s": round(len(latencies) / wall, 1) if wall else 0,
            "calls_per_s": round(calls / wall, 2) if wall else 0,
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1) if latencies else None,
            "errors": errors,
            "lost": calls - done,
            "database": db.engine.dialect.name,
            # the client (this process) shares the machine with the server
            "client_cpu_s": round(client_cpu, 2),
            # what the web tier spent per webhook, whatever else ran on the machine
            "server_cpu_s": round(server_cpu_s, 2) if server_cpu_s is not None else None,
            "server_cpu_ms_per_webhook": round(server_cpu_s * 1000 / len(latencies), 2)
            if server_cpu_s is not None and latencies
            else None,
            "cpus": os.cpu_count(),
            "load_avg_1m_before": round(load_before[0], 2),
            "load_avg_1m_after": round(load_after[0], 2),
        }


@click.command("twilio")
@click.option("--calls", default=200, show_default=True, help="Calls in the wave.")
@click.option("--concurrency", default=8, show_default=True, help="Twilio's parallel requests.")
@click.option("--database-url", default="", help="Scratch database (default: a temporary SQLite file).")
@click.option(
    "--server",
    type=click.Choice(["werkzeug", "gunicorn"]),
    default="werkzeug",
    show_default=True,
    help="werkzeug's threaded server in this process, or the production gunicorn (web.wsgi:app).",
)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=8, show_default=True, help="gunicorn threads per worker.")
def bench_twilio(
    calls: int, concurrency: int, database_url: str, server: str, workers: int, threads: int
) -> None:
    """Throughput of the signed Twilio webhooks for a wave (prints one JSON line last)."""
    if calls < 1 or concurrency < 1 or workers < 1 or threads < 1:
        raise click.BadParameter("calls, concurrency, workers and threads must be at least 1")
    click.echo(json.dumps(run_bench(calls, concurrency, database_url, server, workers, threads)))
