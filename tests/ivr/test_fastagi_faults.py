"""The FastAGI server when its database fails: the call goes to the fallback (never dead
air), the server keeps serving, and its heartbeat says how it is doing."""

from __future__ import annotations

import threading

import pytest
from fake_asterisk import FakeChannel
from ivr_seed import seed_all
from sqlalchemy.exc import OperationalError

from db.heartbeats import recent
from db.models import Delivery
from ivr.fastagi import ServerHeartbeat, build_server

FALLBACK_TAIL = ["SET CONTEXT burgernet-fallback", "SET EXTENSION s", "set priority 1"]


class FlakyDb:
    """The real database, whose commits (and rollbacks) fail while `broken` is set, as when
    the connection is cut or PostgreSQL restarts."""

    def __init__(self, real):
        self.real = real
        self.broken = False

    def _error(self, what: str) -> OperationalError:
        return OperationalError(what, {}, ConnectionError("server closed the connection unexpectedly"))

    def session(self):
        session = self.real.session()
        commit, rollback = session.commit, session.rollback

        def flaky_commit():
            if self.broken:
                raise self._error("COMMIT")
            commit()

        def flaky_rollback():
            rollback()
            if self.broken:
                raise self._error("ROLLBACK")

        session.commit = flaky_commit  # type: ignore[method-assign]
        session.rollback = flaky_rollback  # type: ignore[method-assign]
        return session


@pytest.fixture
def flaky(db):
    return FlakyDb(db)


@pytest.fixture
def flaky_server(agi_settings, flaky, clock):
    srv = build_server(agi_settings, flaky, clock, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def alert_call(server, delivery_id, **kwargs) -> FakeChannel:
    host, port = server.server_address[:2]
    variables = {"BURGERNET_DELIVERY_ID": str(delivery_id), "BURGERNET_AMD": "HUMAN"}
    return FakeChannel(host, port, "alert", variables=variables, **kwargs)


def wait_for_outcomes(server, total: int) -> dict:
    for _ in range(250):
        if sum(server.outcomes.values()) >= total:
            break
        threading.Event().wait(0.02)
    return dict(server.outcomes)


def test_database_lost_mid_call_falls_back_and_the_server_carries_on(flaky_server, flaky, db):
    seeded = seed_all(db)

    def cut_at_the_menu(command: str) -> None:
        if command.startswith("WAIT FOR DIGIT"):
            flaky.broken = True

    first = alert_call(flaky_server, seeded.delivery_id, presses=["3"], on_command=cut_at_the_menu)
    commands = first.run()
    assert wait_for_outcomes(flaky_server, 1) == {"fallback": 1}
    assert commands[-3:] == FALLBACK_TAIL  # the apology, not dead air

    flaky.broken = False  # the database is back: the next call runs normally
    second = alert_call(flaky_server, seeded.delivery_id, presses=["3"])
    second.run()
    assert wait_for_outcomes(flaky_server, 2) == {"fallback": 1, "completed": 1}
    with db.session() as s:
        assert s.get(Delivery, seeded.delivery_id).acknowledged is True


def test_heartbeat_reports_calls_and_survives_a_database_outage(flaky_server, flaky, db):
    heartbeat = ServerHeartbeat(flaky_server, flaky, every_s=0.05)
    assert heartbeat.beat() is True
    [row] = [p for p in recent(db) if p.role == "ivr"]
    assert row.alive and row.detail["active_calls"] == 0 and row.detail["outcomes"] == {}

    flaky.broken = True
    assert heartbeat.beat() is False  # logged, never raised
    flaky.broken = False
    heartbeat.start()
    heartbeat.stop()
    [row] = [p for p in recent(db) if p.role == "ivr"]
    assert row.status == "stopped" and not row.alive and heartbeat.failures == 1
