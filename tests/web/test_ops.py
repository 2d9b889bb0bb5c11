"""Health, readiness and metrics (issue 12, item 6): what a load balancer, systemd and
Prometheus see, computed from the database so every web worker gives the same answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from console_testing import login
from prometheus_client.parser import text_string_to_metric_families

from config.clock import utcnow
from db.database import Database
from db.heartbeats import Heartbeat
from db.models import (
    Channel,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Sighting,
)
from tests.support.seed import running_action


@pytest.fixture
def ops_client(app):
    return app.test_client()


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    """Every sample called `name` in Prometheus' text format, as (labels, value)."""
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def metric(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name` with exactly `labels`, or None when it is absent."""
    found = [value for got, value in samples(text, name) if got == labels]
    return found[0] if found else None


def test_healthz_answers_ok_when_the_database_answers(ops_client):
    response = ops_client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_answers_503_with_a_reason_when_the_database_is_away(app):
    app.extensions["burgernet.db"].dispose()
    # a PostgreSQL server that is not there (nothing listens on port 9)
    away = Database(
        "postgresql+psycopg://postgres@127.0.0.1:9/burgernet", connect_args={"connect_timeout": 2}
    )
    app.extensions["burgernet.db"] = away
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and "database niet bereikbaar" in body["reason"]
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and not ready.get_json()["ready"]


def test_readyz_needs_a_live_dialer_for_the_backend(ops_client, db):
    response = ops_client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reasons"] == ["geen actieve kiezer voor simulator"]

    Heartbeat(db, "dialer", suffix="other").beat(backend="twilio")  # another backend's dialer
    assert ops_client.get("/readyz").status_code == 503

    dialer = Heartbeat(db, "dialer", suffix="sim")
    dialer.beat(backend="simulator", calls_in_flight=2)
    response = ops_client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200 and body["ready"] and body["reasons"] == []
    listed = {p["name"]: p for p in body["processes"]}
    assert listed[dialer.name]["role"] == "dialer" and listed[dialer.name]["status"] == "ok"
    assert 0 <= listed[dialer.name]["age_s"] < 30

    dialer.beat(
        "degraded", backend="simulator", reason="backend unavailable", backend_reason="AMI-verbinding weg"
    )
    body = ops_client.get("/readyz").get_json()
    assert not body["ready"] and "centrale niet bereikbaar" in body["reasons"][0]
    assert {p["name"]: p for p in body["processes"]}[dialer.name]["backend_reason"] == "AMI-verbinding weg"

    # degraded for its database, not the phone network: not ready, but no "centrale" verdict
    dialer.beat("degraded", backend="simulator", reason="database unreachable", error="timeout")
    body = ops_client.get("/readyz").get_json()
    assert body["reasons"] == ["elke kiezer voor simulator is verstoord"]


def test_readyz_on_asterisk_also_needs_the_fastagi_server(app, db):
    app.extensions["burgernet.settings"].phone_backend = "asterisk"
    client = app.test_client()
    Heartbeat(db, "dialer").beat(backend="asterisk")
    body = client.get("/readyz").get_json()
    assert body["reasons"] == ["geen actieve FastAGI-server (ivr serve)"]
    Heartbeat(db, "ivr").beat(sessions=0)
    assert client.get("/readyz").status_code == 200


def test_readyz_of_a_web_tier_without_dialers_counts_only_the_database(app):
    app.extensions["burgernet.settings"].ops.ready_needs_dialer = False
    assert app.test_client().get("/readyz").status_code == 200


def test_a_process_that_stopped_beating_is_listed_as_gone(ops_client, db):
    old = Heartbeat(db, "scheduler")
    old.beat()
    from sqlalchemy import update

    from db.models import ProcessHeartbeat

    with db.transaction() as s:
        s.execute(update(ProcessHeartbeat).values(beat_at=utcnow() - timedelta(minutes=5)))
    listed = {p["name"]: p for p in ops_client.get("/readyz").get_json()["processes"]}
    assert listed[old.name]["status"] == "gone" and listed[old.name]["age_s"] >= 299


def _wave(db) -> int:
    """A running action: 3 queued, 2 in flight; in the last minute 6 calls started and 3 ended."""
    now = utcnow()
    with db.transaction() as s:
        action = running_action(s)
        states = [DeliveryState.QUEUED] * 3 + [DeliveryState.DIALING, DeliveryState.ANSWERED]
        states += [DeliveryState.COMPLETED, DeliveryState.COMPLETED, DeliveryState.BUSY]
        for i, state in enumerate(states):
            d = Delivery(
                action_id=action.id, channel=Channel.VOICE, target=f"+3161234{i:04d}", rank=i, state=state
            )
            s.add(d)
            s.flush()
            if state != DeliveryState.QUEUED:
                s.add(DeliveryEvent(delivery_id=d.id, at=now, event="claimed", to_state="dialing"))
            if state in (DeliveryState.COMPLETED, DeliveryState.BUSY):
                s.add(DeliveryEvent(delivery_id=d.id, at=now, event="ended", to_state=state.value))
        # an hour ago: outside the one-minute window
        s.add(DeliveryEvent(delivery_id=d.id, at=now - timedelta(hours=1), event="old", to_state="dialing"))
        s.add(DeliveryEvent(delivery_id=d.id, at=now - timedelta(hours=1), event="old", to_state="completed"))
        return action.id


def test_metrics_are_computed_from_the_database(ops_client, db):
    action_id = _wave(db)
    Heartbeat(db, "ivr").beat(sessions=7)
    text = ops_client.get("/metrics").get_data(as_text=True)
    assert metric(text, "burgernet_calls_in_flight") == 2
    assert metric(text, "burgernet_calls_started_per_second") == pytest.approx(5 / 60, abs=0.001)
    assert metric(text, "burgernet_call_results_per_minute", result="completed") == 2
    assert metric(text, "burgernet_call_results_per_minute", result="busy") == 1
    assert metric(text, "burgernet_call_results_per_minute", result="no_answer") == 0
    assert metric(text, "burgernet_queue_depth", action=str(action_id)) == 3
    assert [value for _, value in samples(text, "burgernet_fastagi_sessions")] == [7]
    ages = samples(text, "burgernet_process_heartbeat_age_seconds")
    assert [(labels["role"], labels["status"]) for labels, _ in ages] == [("ivr", "ok")]
    assert 0 <= ages[0][1] < 30


def test_metrics_count_refused_webhooks_per_web_worker(app, db):
    app.extensions["burgernet.settings"].phone_backend = "twilio"
    client = app.test_client()
    Heartbeat(db, "web").beat()  # this process's web heartbeat: its counters are read live
    own = Heartbeat(db, "web").name
    before = metric(
        client.get("/metrics").get_data(as_text=True), "burgernet_webhook_refusals_total", process=own
    )
    assert client.post("/twilio/call-status", data={"CallSid": "CA1"}).status_code == 403  # unsigned
    forged = {"X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl"}
    assert client.post("/twilio/call-status", data={"CallSid": "CA1"}, headers=forged).status_code == 403
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "burgernet_webhook_refusals_total", process=own) == before + 2
    # another worker's count arrives through its heartbeat
    other = Heartbeat(db, "web", suffix="other-worker")
    other.beat(webhook_refusals=5)
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "burgernet_webhook_refusals_total", process=other.name) == 5


def test_metrics_are_only_for_loopback_or_the_token(app):
    client = app.test_client()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base=remote).status_code == 404
    # through a reverse proxy on the same host: loopback address, but not a local scraper
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 404
    app.extensions["burgernet.settings"].ops.metrics_token = "scrape-token-1"
    assert client.get("/metrics").status_code == 404  # with a token, loopback needs it too
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer scrape-token-1"})
    assert ok.status_code == 200 and "burgernet_calls_in_flight" in ok.get_data(as_text=True)


def test_admin_status_page_shows_processes_faults_and_failed_recordings(client, staff, db):
    login(client, "admin")
    dialer = Heartbeat(db, "dialer", suffix="trunk-a")
    dialer.beat(
        "degraded", backend="simulator", reason="backend unavailable", backend_reason="AMI-verbinding weg"
    )
    Heartbeat(db, "ivr").beat(sessions=3)
    with db.transaction() as s:
        s.add(Sighting(caller_number="+31612345678", recording_status="failed", recording_error="schijf vol"))
        s.add(Sighting(caller_number="+31612345679", recording_status="truncated"))
        s.add(Sighting(caller_number="+31612345670", recording_status="complete"))
    html = client.get("/beheer/status").get_data(as_text=True)
    assert "Centrale niet bereikbaar" in html
    assert f'data-process="{dialer.name}" data-state="degraded"' in html
    assert "centrale niet bereikbaar: AMI-verbinding weg" in html
    assert "mislukt" in html and "schijf vol" in html and "afgebroken" in html
    assert html.count("data-sighting=") == 2
    assert "+31612345678" not in html and "+316****5678" in html


def test_the_status_page_is_for_admins_only(client, staff):
    login(client, "centralist")
    assert client.get("/beheer/status").status_code == 403
