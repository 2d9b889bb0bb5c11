"""`burgernet bench fastagi`: how many simultaneous calls the FastAGI server carries.

A scratch database (temporary SQLite, or a temporary PostgreSQL database created through
`--postgres-admin-url` and dropped afterwards) gets one running action, one alert delivery per
alert call and no participant for the call-back callers. Simulated Asterisk channels
(`tests.support.agi_peer`) then run the alert flow (press 3: "I will look out") and the call-back flow
(press 1 to record a sighting instead of being put through) concurrently, prompts taking `--prompt-ms` each.
Calls arrive at `--cps` (as the dialer paces answered calls), at most `--concurrency` at once.
Every call must end completed with its effect in the database (an acknowledged delivery, a
sighting row with its audio file); anything else counts as lost. The server's reply gap (from
Asterisk's answer to the server's next command: the silence a caller hears because of us) is
reported as p50/p95/max. One JSON line last.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
from sqlalchemy import create_engine, func, select, text

from config.clock import SystemClock
from db.database import Database
from db.models import (
    Action,
    ActionStatus,
    Channel,
    ControlRoom,
    Delivery,
    IncidentType,
    Sighting,
)
from db.runtime import current_settings
from ivr.fastagi import build_server
from tests.support.agi_peer import AgiPeer

VOICE_TEXT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer dertig "
    "jaar met een rode jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)


def _seed(db: Database, alert_calls: int) -> list[int]:
    with db.transaction() as s:
        room = ControlRoom(
            name="Bench",
            region="Bench",
            transfer_target="PJSIP/burgernet-centralist",
            callback_number="+318000011",
        )
        s.add(room)
        s.flush()
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.SUSPECT,
            voice_text=VOICE_TEXT,
            location_label="Markt, Delft",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=["voice"],
            status=ActionStatus.RUNNING,
            started_at=SystemClock().now(),
        )
        s.add(action)
        s.flush()
        deliveries = [
            Delivery(action_id=action.id, channel=Channel.VOICE, target=f"+3161{n:07d}")
            for n in range(alert_calls)
        ]
        s.add_all(deliveries)
        s.flush()
        for delivery in deliveries:  # the call id the dialer stores, which the peer's channel carries
            delivery.provider, delivery.provider_id = "asterisk", bench_call_id(delivery.id)
        return [d.id for d in deliveries]


def bench_call_id(delivery_id: int) -> str:
    return f"bn-{delivery_id}-benchpeers"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class _PostgresScratch:
    def __init__(self, admin_url: str):
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"burgernet_bench_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = admin_url.rsplit("/", 1)[0] + "/" + self.name

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


@click.command("fastagi")
@click.option("--calls", default=300, show_default=True, help="Calls in the measured run.")
@click.option("--concurrency", default=100, show_default=True, help="Calls in progress at once.")
@click.option(
    "--callback-share",
    default=0.2,
    show_default=True,
    help="Share of the calls that are call-back calls (the rest are alert calls).",
)
@click.option("--prompt-ms", default=200, show_default=True, help="Simulated playback per prompt.")
@click.option(
    "--cps",
    default=50.0,
    show_default=True,
    help="Calls answered per second, as a dialer paces them (0: all at once).",
)
@click.option(
    "--postgres-admin-url",
    default="",
    help="Run on a temporary PostgreSQL database created (and dropped) through this URL.",
)
def bench_fastagi(
    calls: int, concurrency: int, callback_share: float, prompt_ms: int, cps: float, postgres_admin_url: str
) -> None:
    """Concurrent simulated Asterisk calls through the FastAGI server; one JSON line last."""
    if calls < 1 or concurrency < 1 or not 0 <= callback_share <= 1:
        raise click.BadParameter("calls and concurrency must be positive, callback-share in 0..1")
    callbacks = round(calls * callback_share)
    alerts = calls - callbacks
    scratch = _PostgresScratch(postgres_admin_url) if postgres_admin_url else None
    with tempfile.TemporaryDirectory(prefix="burgernet-bench-fastagi-") as tmp:
        root = Path(tmp)
        base = current_settings()
        url = scratch.url if scratch else f"sqlite:///{root / 'bench.sqlite3'}"
        settings = base.model_copy(
            update={
                "database_url": url,
                "instance_path": root / "instance",
                "asterisk": base.asterisk.model_copy(
                    update={
                        "sounds_dir": str(root / "pbx" / "sounds"),
                        "recordings_dir": str(root / "pbx" / "recordings"),
                    }
                ),
            }
        )
        settings.ensure_instance_dirs()
        (root / "pbx" / "recordings").mkdir(parents=True)
        db = Database(url)
        server = None
        try:
            db.upgrade()
            delivery_ids = _seed(db, alerts + 1)
            server = build_server(settings, db, SystemClock(), "127.0.0.1", 0)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            host, port = server.server_address[:2]

            def alert_peer(n: int, delivery_id: int) -> AgiPeer:
                return AgiPeer(
                    host,
                    port,
                    "alert",
                    bench_call_id(delivery_id),
                    keys=["3"],
                    prompt_s=prompt_ms / 1000,
                    variables={"BURGERNET_DELIVERY_ID": str(delivery_id), "BURGERNET_AMD": "HUMAN"},
                )

            def callback_peer(n: int) -> AgiPeer:
                # Presses 1 at the offer to be put through: records a sighting.
                return AgiPeer(
                    host,
                    port,
                    "callback",
                    f"c.{n}",
                    callerid="0152158000",
                    keys=["1"],
                    prompt_s=prompt_ms / 1000,
                )

            # Warm-up (not measured): every prompt rendered and published once.
            alert_peer(0, delivery_ids[0]).run()
            callback_peer(0).run()
            with db.transaction() as s:
                s.query(Sighting).delete()
            server.outcomes.clear()
            server.max_active_calls = 0

            peers = [alert_peer(n + 1, d) for n, d in enumerate(delivery_ids[1:])]
            peers += [callback_peer(n + 1) for n in range(callbacks)]
            random.Random(5).shuffle(peers)  # the two kinds interleaved, as they would arrive
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = []
                for n, peer in enumerate(peers):
                    if cps > 0:
                        time.sleep(max(0.0, started + n / cps - time.monotonic()))
                    futures.append(pool.submit(peer.run))
                for future in futures:
                    future.result()
            wall = time.monotonic() - started
            for _ in range(100):  # the server notes an outcome just after the peer's last reply
                if sum(server.outcomes.values()) >= calls:
                    break
                time.sleep(0.05)
            with db.session() as s:
                acknowledged = (
                    s.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.id.in_(delivery_ids[1:]), Delivery.acknowledged.is_(True))
                    )
                    or 0
                )
                sightings = s.scalars(select(Sighting)).all()
                stored = sum(
                    1
                    for x in sightings
                    if x.recording_path and (settings.recordings_dir / x.recording_path).is_file()
                )
            gaps = [g for p in peers for g in p.server_gaps_s]
            result = {
                "calls": calls,
                "alert_calls": alerts,
                "callback_calls": callbacks,
                "completed": server.outcomes.get("completed", 0),
                "fallback": server.outcomes.get("fallback", 0),
                "hangup": server.outcomes.get("hangup", 0),
                "lost": (alerts - acknowledged) + (callbacks - stored),
                "concurrency": concurrency,
                "max_active_calls": server.max_active_calls,
                "prompt_ms": prompt_ms,
                "configured_cps": cps,
                "wall_s": round(wall, 2),
                "calls_per_s": round(calls / wall, 1) if wall else None,
                "reply_gap_p50_ms": round(_percentile(gaps, 0.50) * 1000, 1),
                "reply_gap_p95_ms": round(_percentile(gaps, 0.95) * 1000, 1),
                "reply_gap_max_ms": round(max(gaps, default=0.0) * 1000, 1),
                "database": "postgresql" if scratch else "sqlite",
            }
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
            db.dispose()
            if scratch:
                scratch.drop()
    click.echo(json.dumps(result))
