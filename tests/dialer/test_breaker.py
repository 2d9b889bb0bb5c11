"""The circuit breaker: while the backend says it cannot take calls, nothing is claimed and no
attempt is spent; a claim the backend could not take goes back to the queue with its attempt."""

from __future__ import annotations

from dialer_fixtures import make_action, make_deliveries
from sqlalchemy import select
from stepped_wave import run_until_done, simulated_worker

from db.heartbeats import recent
from db.models import Delivery, DeliveryEvent, DeliveryState
from deliveries.call_backend import BackendUnavailable

S = DeliveryState


class Switchable:
    """The simulated network behind a link that the test cuts: a reason while it is down, and
    `refuse_after` originates accepted before the link drops mid-batch."""

    def __init__(self, network):
        self.network = network
        self.name = network.name
        self.down: str | None = None
        self.refuse_after: int | None = None

    def start(self, sink):
        self.network.start(sink)

    def unavailable_reason(self):
        return self.down

    def originate(self, request):
        if self.refuse_after is not None:
            if self.refuse_after <= 0:
                raise BackendUnavailable("AMI-verbinding verbroken")
            self.refuse_after -= 1
        return self.network.originate(request)

    def hangup(self, delivery_id, provider_id):
        self.network.hangup(delivery_id, provider_id)

    def stop(self):
        self.network.stop()


def rows(db):
    with db.session() as s:
        return {d.id: (d.state, d.attempts, d.claimed_by) for d in s.scalars(select(Delivery))}


def breaker_worker(db, room, clock, settings, count=10):
    settings.dialer.channels, settings.dialer.cps = 10, 10.0
    settings.dialer.cps_burst_s = 1.0
    with db.session() as s:
        make_deliveries(s, make_action(s, room), count)
        s.commit()
    worker, network = simulated_worker(db, clock, settings)
    backend = Switchable(network)
    worker.backend = backend
    return worker, network, backend


def test_nothing_is_claimed_while_the_backend_is_down_and_calls_resume_when_it_is_back(
    db, room, clock, settings
):
    worker, network, backend = breaker_worker(db, room, clock, settings)
    backend.down = "geen AMI-verbinding"
    for _ in range(20):
        clock.advance(0.2)
        assert worker.tick().placed == 0
    assert all(row == (S.QUEUED, 0, None) for row in rows(db).values())
    status, detail = worker.health()
    assert status == "degraded" and detail["backend_reason"] == "geen AMI-verbinding"
    worker.beat()
    (beat,) = recent(db)
    assert (beat.role, beat.status, beat.detail["reason"]) == ("dialer", "degraded", "backend unavailable")

    backend.down = None
    assert worker.tick().placed == 10  # at once, no attempt lost meanwhile
    assert worker.health()[0] == "ok"
    run_until_done(worker, network, clock, db)
    with db.session() as s:
        assert all(d.attempts >= 1 and d.state != S.QUEUED for d in s.scalars(select(Delivery)))


def test_a_claim_the_backend_could_not_take_goes_back_with_its_attempt(db, room, clock, settings):
    worker, network, backend = breaker_worker(db, room, clock, settings)
    backend.refuse_after = 3  # the link drops after three calls of the batch
    assert worker.tick().placed == 3
    state = rows(db)
    dialing = [d for d, (st, attempts, _) in state.items() if st == S.DIALING]
    back = [d for d, (st, attempts, claimed) in state.items() if st == S.QUEUED]
    assert len(dialing) == 3 and len(back) == 7
    assert all(state[d][1] == 0 and state[d][2] is None for d in back)  # attempt not spent
    assert network.originated == 3
    with db.session() as s:
        undone = s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "dialer.unclaimed")).all()
    assert sorted(e.delivery_id for e in undone) == sorted(back)
    assert all((e.from_state, e.to_state) == ("dialing", "queued") for e in undone)
    assert all(e.detail["attempt_spent"] is False for e in undone)

    backend.refuse_after = None  # the link is back, but the breaker holds for a moment
    assert worker.tick().placed == 0 and worker.health()[0] == "degraded"
    clock.advance(1.0)
    assert worker.tick().placed == 7
    run_until_done(worker, network, clock, db)
    with db.session() as s:
        first_attempts = s.scalars(select(DeliveryEvent).where(DeliveryEvent.event == "dialer.claimed")).all()
    claims_of = {}
    for e in first_attempts:
        claims_of.setdefault(e.delivery_id, 0)
        claims_of[e.delivery_id] += 1
    with db.session() as s:
        for d in s.scalars(select(Delivery)):
            # Every attempt counted was placed on the network; the given-back claims were not.
            assert d.attempts == claims_of[d.id] - (1 if d.id in back else 0)
