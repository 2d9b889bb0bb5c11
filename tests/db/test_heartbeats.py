from datetime import timedelta

from config.clock import utcnow
from db.heartbeats import STALE_AFTER_S, Heartbeat, recent


def test_a_beating_process_is_alive_and_a_silent_one_is_not(db):
    dialer = Heartbeat(db, "dialer", suffix="trunk-a")
    dialer.beat(calls_in_flight=3)
    dialer.beat("degraded", reason="AMI-verbinding weg")
    ivr = Heartbeat(db, "ivr")
    ivr.beat()

    later = utcnow() + timedelta(seconds=STALE_AFTER_S + 1)
    statuses = {s.role: s for s in recent(db)}
    assert statuses["dialer"].status == "degraded"
    assert statuses["dialer"].detail == {"reason": "AMI-verbinding weg"}
    assert statuses["dialer"].alive and statuses["ivr"].alive
    assert len(recent(db)) == 2  # one row per process, however often it beats
    assert not any(s.alive for s in recent(db, now=later))


def test_a_clean_stop_is_not_alive(db):
    scheduler = Heartbeat(db, "scheduler")
    scheduler.beat()
    scheduler.stopped()
    (status,) = recent(db)
    assert status.status == "stopped" and not status.alive
