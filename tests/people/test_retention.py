from __future__ import annotations

from datetime import timedelta

import pytest
from people_helpers import control_room, delivery, ended_action
from sqlalchemy import func, select

from db.models import (
    AuditEvent,
    Channel,
    DailyAggregate,
    Delivery,
    DeliveryEvent,
    DeliveryState,
    Participant,
    PhoneKind,
    PhoneNumber,
    Sighting,
    VerificationCode,
)
from evaluation.aggregates import action_counts
from participants.retention import purge


def person(s, number):
    p = Participant(
        name=f"P {number}",
        birth_year=1970,
        channels=["voice"],
        phones=[PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True)],
    )
    s.add(p)
    s.flush()
    return p


@pytest.fixture
def month(db, clock, settings):
    """An old action (past retention) and a recent one, each with deliveries and a sighting."""
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    with db.transaction() as s:
        room = control_room(s)
        a, b = person(s, "+31611111111"), person(s, "+31622222222")
        old = ended_action(s, room, clock.now() - timedelta(days=settings.retention_days + 5))
        new = ended_action(s, room, clock.now() - timedelta(days=3))
        for action in (old, new):
            d1 = delivery(s, action, a, acknowledged=True)
            delivery(s, action, b, state=DeliveryState.BUSY)
            delivery(s, action, b, channel=Channel.SMS, state=DeliveryState.DELIVERED)
            s.add(DeliveryEvent(delivery_id=d1.id, event="answered", at=action.started_at))
            rec = settings.recordings_dir / f"sighting-{action.id}.wav"
            rec.write_bytes(b"RIFF")
            s.add(
                Sighting(
                    action_id=action.id,
                    caller_number="+31611111111",
                    participant_id=a.id,
                    delivery_id=d1.id,
                    recording_path=rec.name,
                    received_at=action.started_at + timedelta(minutes=4),
                )
            )
        return {"old": old.id, "new": new.id}


def test_purge_removes_old_personal_data_and_keeps_the_figures(db, clock, settings, month):
    with db.session() as s:
        before = action_counts(s, [month["old"], month["new"]])
    with db.transaction() as s:
        report = purge(s, clock, settings)
    assert report.actions_frozen == 1
    assert report.deliveries_deleted == 3 and report.delivery_events_deleted == 1
    assert report.recordings_deleted == 1 and report.sightings_anonymised == 1
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.action_id == month["old"]))
            == 0
        )
        assert (
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.action_id == month["new"]))
            == 3
        )
        old_sighting = s.scalar(select(Sighting).where(Sighting.action_id == month["old"]))
        assert (old_sighting.caller_number, old_sighting.recording_path, old_sighting.participant_id) == (
            None,
            None,
            None,
        )
        assert old_sighting.received_at is not None  # the count and time survive
        new_sighting = s.scalar(select(Sighting).where(Sighting.action_id == month["new"]))
        assert new_sighting.caller_number == "+31611111111" and new_sighting.recording_path
        # the aggregates give the same figures as the deliveries did
        after = action_counts(s, [month["old"], month["new"]])
        assert after == before
        assert s.scalar(select(func.count()).select_from(DailyAggregate)) == len(before[month["old"]])
    assert not (settings.recordings_dir / f"sighting-{month['old']}.wav").exists()
    assert (settings.recordings_dir / f"sighting-{month['new']}.wav").exists()


def test_purge_is_idempotent(db, clock, settings, month):
    with db.transaction() as s:
        purge(s, clock, settings)
    with db.transaction() as s:
        again = purge(s, clock, settings)
    assert (again.actions_frozen, again.deliveries_deleted, again.sightings_anonymised) == (0, 0, 0)


def test_purge_clears_expired_codes_and_the_ip_log(db, clock, settings):
    with db.transaction() as s:
        p = person(s, "+31633333333")
        s.add(
            VerificationCode(
                participant_id=p.id,
                purpose="phone",
                target="+31633333333",
                code_hash="x",
                expires_at=clock.now() - timedelta(days=2),
                created_at=clock.now() - timedelta(days=2),
            )
        )
        s.add(
            VerificationCode(
                participant_id=p.id,
                purpose="phone",
                target="+31633333333",
                code_hash="y",
                expires_at=clock.now() + timedelta(minutes=10),
                created_at=clock.now(),
            )
        )
        s.add(
            AuditEvent(
                at=clock.now() - timedelta(days=2), actor="public", event="portal.request", ip="192.0.2.1"
            )
        )
        s.add(AuditEvent(at=clock.now() - timedelta(days=2), actor="x", event="login", ip="192.0.2.1"))
    with db.transaction() as s:
        report = purge(s, clock, settings)
    assert report.verification_codes_deleted == 1 and report.request_log_deleted == 1
    with db.session() as s:
        assert [c.code_hash for c in s.scalars(select(VerificationCode))] == ["y"]
        assert [e.event for e in s.scalars(select(AuditEvent))] == ["login"]


def test_retention_must_be_positive(db, clock, settings):
    settings.retention_days = 0
    with db.transaction() as s, pytest.raises(ValueError):
        purge(s, clock, settings)


def test_abandoned_sign_ups_are_removed_after_thirty_days(db, clock, settings):
    with db.transaction() as s:
        old = clock.now() - timedelta(days=31)
        s.add(
            Participant(
                name="Nooit bevestigd",
                birth_year=1980,
                source="signup",
                created_at=old,
                phones=[PhoneNumber(e164="+31644444444", kind=PhoneKind.MOBILE)],
            )
        )
        s.add(
            Participant(
                name="Wel bevestigd",
                birth_year=1980,
                source="signup",
                created_at=old,
                phones=[PhoneNumber(e164="+31655555555", kind=PhoneKind.MOBILE, verified=True)],
            )
        )
        s.add(
            Participant(
                name="Recent",
                birth_year=1980,
                source="signup",
                created_at=clock.now(),
                phones=[PhoneNumber(e164="+31666666666", kind=PhoneKind.MOBILE)],
            )
        )
        s.add(Participant(name="Geimporteerd", birth_year=1980, source="import", created_at=old))
        s.add(
            Participant(
                name="Per sms",
                birth_year=1980,
                source="sms",
                created_at=old,
                phones=[PhoneNumber(e164="+31677777777", kind=PhoneKind.MOBILE)],
            )
        )
    with db.transaction() as s:
        assert purge(s, clock, settings).abandoned_signups_deleted == 2
    with db.session() as s:
        assert sorted(p.name for p in s.scalars(select(Participant))) == [
            "Geimporteerd",
            "Recent",
            "Wel bevestigd",
        ]
