"""Health, readiness and metrics of the platform, for load balancers, systemd and Prometheus.

- `/healthz`: this web worker can reach the database (`SELECT 1`); 503 with the reason if not.
- `/readyz`: the platform can take an action: the database answers and, unless
  `ops.ready_needs_dialer` is false, a live dialer heartbeat exists for the configured backend
  (and a live `ivr` heartbeat on Asterisk). Lists every process seen in the last hour (role,
  name, status, age) as JSON; 503 with the reasons when not ready.
- `/metrics`: Prometheus text format, computed from the database at scrape time (so any web
  worker gives the same answer for the whole cluster) plus the processes' heartbeats.
  Protected: with `ops.metrics_token` set, only `Authorization: Bearer <token>`; without a token,
  only a loopback client that did not come through a proxy (a request with X-Forwarded-For
  or Forwarded is refused, so a reverse proxy on the same host does not open /metrics to the
  world). Everything else gets 404, as if there were no such page.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
from datetime import timedelta

from flask import Blueprint, Response, abort, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text

from config.clock import utcnow
from db.heartbeats import ProcessStatus, recent
from db.models import Action, ActionStatus, Channel, Delivery, DeliveryEvent, DeliveryState
from deliveries.states import IN_FLIGHT, RESULT_STATES
from web import process_stats
from web.csrf import exempt_blueprint
from web.runtime import current_db, current_settings

bp = Blueprint("ops", __name__)
exempt_blueprint(bp)

# What a call attempt ended in: completed, a result a retry may follow, or cancelled.
VOICE_RESULTS = tuple(
    sorted(s.value for s in RESULT_STATES | {DeliveryState.COMPLETED, DeliveryState.CANCELLED})
)
WINDOW_S = 60


def database_problem() -> str | None:
    """None when the database answers a `SELECT 1`; else a short reason."""
    try:
        with current_db().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"database niet bereikbaar ({type(exc).__name__})"
    return None


@bp.get("/healthz")
def healthz():
    problem = database_problem()
    if problem:
        return jsonify(status="unavailable", reason=problem), 503
    return jsonify(status="ok")


def degraded_reason(process: ProcessStatus) -> str | None:
    """Why a process says it is degraded (its heartbeat's `reason`), or None when it is not."""
    if process.status != "degraded":
        return None
    return str(process.detail.get("reason") or "onbekende storing")


def backend_reason(process: ProcessStatus) -> str | None:
    """Why a degraded dialer cannot hand calls to its backend (the dialer's circuit breaker:
    `CallBackend.unavailable_reason()`, beaten as `backend_reason`), or None."""
    if process.status != "degraded" or process.role != "dialer":
        return None
    reason = process.detail.get("backend_reason")
    return str(reason) if reason else None


def dialers_for(processes: list[ProcessStatus], backend: str) -> list[ProcessStatus]:
    """Live dialers working for `backend` (a heartbeat without a `backend` detail counts)."""
    return [
        p for p in processes if p.role == "dialer" and p.alive and p.detail.get("backend", backend) == backend
    ]


def backend_unreachable(processes: list[ProcessStatus], backend: str) -> bool:
    """Every live dialer of the backend is degraded because the backend refuses calls (and
    there is at least one): "centrale niet bereikbaar". A dialer degraded for another reason
    (its database) does not count: the phone network may well be fine."""
    dialers = dialers_for(processes, backend)
    return bool(dialers) and all(backend_reason(p) for p in dialers)


def readiness(processes: list[ProcessStatus]) -> list[str]:
    """Why the platform cannot take an action now, in Dutch (the admin status page shows them);
    empty when ready."""
    settings = current_settings()
    reasons = []
    problem = database_problem()
    if problem:
        reasons.append(problem)
    if settings.ops.ready_needs_dialer:
        backend = settings.phone_backend
        dialers = dialers_for(processes, backend)
        if not dialers:
            reasons.append(f"geen actieve kiezer voor {backend}")
        elif backend_unreachable(processes, backend):
            reasons.append(f"centrale niet bereikbaar: elke kiezer voor {backend} meldt een storing")
        elif all(p.status == "degraded" for p in dialers):
            reasons.append(f"elke kiezer voor {backend} is verstoord")
        if backend == "asterisk" and not any(p.role == "ivr" and p.alive for p in processes):
            reasons.append("geen actieve FastAGI-server (ivr serve)")
    return reasons


@bp.get("/readyz")
def readyz():
    now = utcnow()
    try:
        processes = recent(current_db(), now=now)
    except Exception as exc:
        return jsonify(
            ready=False, reasons=[f"database niet bereikbaar ({type(exc).__name__})"], processes=[]
        ), 503
    reasons = readiness(processes)
    listed = [
        {
            "role": p.role,
            "name": p.name,
            "status": p.status if p.alive or p.status == "stopped" else "gone",
            "age_s": round((now - p.beat_at).total_seconds(), 1),
            "reason": degraded_reason(p),
            "backend_reason": backend_reason(p),
        }
        for p in processes
    ]
    body = {"ready": not reasons, "reasons": reasons, "processes": listed}
    return jsonify(body), (200 if not reasons else 503)


# --- /metrics -----------------------------------------------------------------------------


def _metrics_allowed() -> bool:
    token = current_settings().ops.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False  # came through a reverse proxy on this host: not a local scraper
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


class DatabaseCollector:
    """The cluster's figures, read from the database when Prometheus scrapes."""

    def __init__(self, db, own_name: str):
        self.db = db
        self.own_name = own_name

    def collect(self):
        now = utcnow()
        since = now - timedelta(seconds=WINDOW_S)
        with self.db.session() as s:
            in_flight = (
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.channel == Channel.VOICE, Delivery.state.in_(sorted(IN_FLIGHT)))
                )
                or 0
            )
            started = (
                s.scalar(
                    select(func.count())
                    .select_from(DeliveryEvent)
                    .where(DeliveryEvent.at >= since, DeliveryEvent.to_state == DeliveryState.DIALING.value)
                )
                or 0
            )
            results = dict(
                s.execute(
                    select(DeliveryEvent.to_state, func.count())
                    .where(DeliveryEvent.at >= since, DeliveryEvent.to_state.in_(VOICE_RESULTS))
                    .group_by(DeliveryEvent.to_state)
                ).all()
            )
            queues = s.execute(
                select(Action.id, func.count(Delivery.id))
                .join(Delivery, Delivery.action_id == Action.id)
                .where(Action.status == ActionStatus.RUNNING, Delivery.state == DeliveryState.QUEUED)
                .group_by(Action.id)
            ).all()
        processes = recent(self.db, now=now)

        yield GaugeMetricFamily(
            "burgernet_calls_in_flight", "Voice calls dialing, ringing or answered.", in_flight
        )
        yield GaugeMetricFamily(
            "burgernet_calls_started_per_second",
            f"Calls handed to the phone network per second, over the last {WINDOW_S} s.",
            round(started / WINDOW_S, 3),
        )
        per_minute = GaugeMetricFamily(
            "burgernet_call_results_per_minute",
            f"Call attempts that ended, per minute over the last {WINDOW_S} s, by result.",
            labels=["result"],
        )
        for result in VOICE_RESULTS:
            per_minute.add_metric([result], results.get(result, 0) * 60 / WINDOW_S)
        yield per_minute
        queue = GaugeMetricFamily(
            "burgernet_queue_depth",
            "Deliveries waiting to be dialled, per running action.",
            labels=["action"],
        )
        for action_id, depth in queues:
            queue.add_metric([str(action_id)], depth)
        yield queue

        refusals = CounterMetricFamily(
            "burgernet_webhook_refusals",
            "Twilio webhooks refused (unsigned, forged or replayed), per web worker since it started.",
            labels=["process"],
        )
        sessions = GaugeMetricFamily(
            "burgernet_fastagi_sessions", "FastAGI sessions open, per ivr process.", labels=["process"]
        )
        ages = GaugeMetricFamily(
            "burgernet_process_heartbeat_age_seconds",
            "Seconds since each process's last heartbeat.",
            labels=["role", "process", "status"],
        )
        up = GaugeMetricFamily(
            "burgernet_process_alive", "1 while a process beats.", labels=["role", "process"]
        )
        own = process_stats.snapshot()
        for p in processes:
            ages.add_metric([p.role, p.name, p.status], (now - p.beat_at).total_seconds())
            up.add_metric([p.role, p.name], 1 if p.alive else 0)
            if p.role == "web" and p.alive:
                counted = own if p.name == self.own_name else p.detail
                refusals.add_metric([p.name], float(counted.get("webhook_refusals", 0) or 0))
            if p.role == "ivr" and p.alive:
                value = p.detail.get("sessions", p.detail.get("fastagi_sessions", 0))
                sessions.add_metric([p.name], float(value or 0))
        yield refusals
        yield sessions
        yield ages
        yield up


@bp.get("/metrics")
def metrics():
    if not _metrics_allowed():
        abort(404)
    registry = CollectorRegistry(auto_describe=False)
    # This worker's own heartbeat is named web:<host>:<pid>; its counters are read live.
    own = f"web:{socket.gethostname()}:{os.getpid()}"
    registry.register(DatabaseCollector(current_db(), own))  # type: ignore[arg-type]
    response = Response(generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
