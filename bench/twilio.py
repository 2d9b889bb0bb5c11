"""`burgernet bench twilio`: how many Twilio webhooks a wave makes and how fast we answer them.

A wave on Twilio is driven by Twilio's requests to us: per answered call, call-status
callbacks (initiated, ringing, answered, completed) and the TwiML steps of the alert flow
(the alert, the menu, the choice). This benchmark plays Twilio for `--calls` calls at once
from `--concurrency` client threads against the real app served over HTTP, every request
signed with the real `RequestValidator` and checked (signature, replay receipt, state
machine, flow engine), on a scratch database. It prints one JSON line last: webhooks per
second, latency percentiles, and how many calls did not end completed and acknowledged.
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from app import create_app
from config.clock import SystemClock
from config.settings import Settings, TwilioSettings
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
AUTH_TOKEN = "bench-auth-token"
OUR_NUMBER = "+31851234567"


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

    def __init__(self, settings: Settings):
        self.settings = settings
        self.validator = RequestValidator(AUTH_TOKEN)
        self.session = requests.Session()
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def post(self, url: str, params: dict) -> str:
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        started = time.perf_counter()
        response = self.session.post(url, data=params, headers=headers, timeout=60)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.append(elapsed)
        response.raise_for_status()
        return response.text

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


def run_bench(calls: int, concurrency: int, database_url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="burgernet-bench-twilio-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        settings = Settings(
            _env_file=None,
            database_url=url,
            instance_path=Path(tmp) / "instance",
            secret_key="bench",
            phone_backend="twilio",
            twilio=TwilioSettings(
                account_sid=ACCOUNT_SID,
                auth_token=AUTH_TOKEN,
                from_number=OUR_NUMBER,
                api_base_url="http://127.0.0.1:9",
            ),
        )
        db = Database(settings.sqlalchemy_url)
        db.upgrade()
        rows = _seed(db, calls)
        app = create_app(settings)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request: too many
        server = make_server("127.0.0.1", 0, app, threaded=True)
        settings.twilio.public_base_url = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        player = TwilioPlayer(settings)
        errors = 0
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
        finally:
            server.shutdown()
            server.server_close()
            app.extensions["burgernet.db"].dispose()
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
        return {
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
        }


@click.command("twilio")
@click.option("--calls", default=200, show_default=True, help="Calls in the wave.")
@click.option("--concurrency", default=8, show_default=True, help="Twilio's parallel requests.")
@click.option("--database-url", default="", help="Scratch database (default: a temporary SQLite file).")
def bench_twilio(calls: int, concurrency: int, database_url: str) -> None:
    """Throughput of the signed Twilio webhooks for a wave (prints one JSON line last)."""
    if calls < 1 or concurrency < 1:
        raise click.BadParameter("calls and concurrency must be at least 1")
    click.echo(json.dumps(run_bench(calls, concurrency, database_url)))
