"""`burgernet bench evaluation`: time the evaluation of a national month on a synthetic database.

About 600 to 700 actions a month nationally, some hundreds of participants reached each: the
default builds 700 ended actions with 300 alert deliveries each (210,000 rows) among 20,000
participants in Haaglanden, in a fresh database (temporary SQLite unless --database-url), then
times `build_report` for the month and prints one JSON line last.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import insert

from db.database import Database
from db.models import Action, Address, ControlRoom, Delivery, Participant, Sighting
from evaluation.figures import Scope, build_report

MONTH = datetime(2026, 11, 1, tzinfo=UTC)
TOWNS = ["Delft", "Rijswijk", "'s-Gravenhage", "Zoetermeer", "Westland"]
STATES = ["completed", "completed", "busy", "no_answer", "machine", "failed"]


def build_month(db: Database, actions: int, per_action: int, participants: int, seed: int = 8) -> None:
    rnd = random.Random(seed)
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31703456789")
        s.add(room)
        s.flush()
        stamp = dict(created_at=MONTH, updated_at=MONTH)
        s.execute(
            insert(Participant),
            [
                dict(
                    name=f"Deelnemer {i}",
                    birth_year=1970,
                    channels=["voice"],
                    status="active",
                    source="bench",
                    email_verified=False,
                    **stamp,
                )
                for i in range(participants)
            ],
        )
        s.execute(
            insert(Address),
            [
                dict(
                    participant_id=i + 1,
                    kind="home",
                    postcode="2611AB",
                    house_number=i + 1,
                    house_number_addition="",
                    municipality=rnd.choice(TOWNS),
                    lat=51.95 + rnd.random() * 0.2,
                    lon=4.2 + rnd.random() * 0.3,
                    geocode_status="ok",
                    **stamp,
                )
                for i in range(participants)
            ],
        )
        s.execute(
            insert(Action),
            [
                dict(
                    control_room_id=room.id,
                    incident_type=rnd.choice(["suspect", "missing_child", "vehicle"]),
                    lat=51.95 + rnd.random() * 0.2,
                    lon=4.2 + rnd.random() * 0.3,
                    radius_m=1000,
                    status="ended",
                    outcome=rnd.choice(["found", "arrested", "no_result"]),
                    started_at=MONTH + timedelta(minutes=i * 60),
                    ended_at=MONTH + timedelta(minutes=i * 60 + 30),
                    training=False,
                    description={},
                    free_text="",
                    location_label="",
                    channels=["voice"],
                    priority=0,
                    urgent=False,
                    outcome_note="",
                    **stamp,
                )
                for i in range(actions)
            ],
        )
        batch = []
        for action_id in range(1, actions + 1):
            for j in range(per_action):
                state = rnd.choice(STATES)
                batch.append(
                    dict(
                        action_id=action_id,
                        participant_id=rnd.randrange(1, participants + 1),
                        kind="alert",
                        channel="voice",
                        target=f"+316{action_id:04d}{j:04d}",
                        phone_kind=rnd.choice(["mobile", "landline"]),
                        state=state,
                        # an answered call heard the message (the figures count who heard it)
                        heard="all" if state in ("completed", "machine") else None,
                        acknowledged=rnd.random() < 0.3,
                        rank=j,
                        priority=0,
                        attempts=1,
                        transfer_requested=False,
                        opt_out_requested=False,
                        menu_choices="",
                        **stamp,
                    )
                )
            if len(batch) >= 20000:
                s.execute(insert(Delivery), batch)
                batch = []
        if batch:
            s.execute(insert(Delivery), batch)
        s.execute(
            insert(Sighting),
            [
                dict(
                    action_id=a,
                    received_at=MONTH + timedelta(minutes=(a - 1) * 60 + rnd.randrange(1, 30)),
                    transferred=False,
                    handled=False,
                    note="",
                    **stamp,
                )
                for a in range(1, actions + 1)
                if rnd.random() < 0.4
            ],
        )


@click.command("evaluation")
@click.option("--actions", default=700, show_default=True)
@click.option("--deliveries", "per_action", default=300, show_default=True, help="Per action.")
@click.option("--participants", default=20000, show_default=True)
@click.option("--runs", default=3, show_default=True)
@click.option(
    "--database-url", default="", help="An empty database to use instead of a temporary SQLite file."
)
def bench_evaluation(actions: int, per_action: int, participants: int, runs: int, database_url: str) -> None:
    """Time the evaluation figures of a national month."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        db.upgrade()
        started = time.perf_counter()
        build_month(db, actions, per_action, participants)
        build_s = time.perf_counter() - started
        timings = []
        for _ in range(max(runs, 1)):
            t = time.perf_counter()
            with db.session() as s:
                report = build_report(s, Scope(MONTH, MONTH + timedelta(days=30)))
            timings.append(time.perf_counter() - t)
        dialect = db.engine.dialect.name
        db.dispose()
    click.echo(
        json.dumps(
            {
                "database": dialect,
                "actions": report.action_count,
                "deliveries": sum(c.counts.recipients for c in report.channels),
                "participants_reached": report.people.reached,
                "build_s": round(build_s, 2),
                "median_report_s": round(statistics.median(timings), 3),
            }
        )
    )
