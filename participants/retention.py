"""The retention purge: personal data older than `settings.retention_days` goes, figures stay.

The dialer's nightly APScheduler job calls `purge(session, clock, settings)` and commits.
What goes:
- deliveries (and their event log) of actions that ended before the cut-off, after their
  counts are frozen into `DailyAggregate`; verification calls older than the cut-off;
- sighting recordings (the files) and the caller's number and identity on sightings older
  than the cut-off; the sighting row itself stays as a count with its time;
- verification codes that expired more than a day ago, and the per-IP request log used for
  rate limits once it is older than a day;
- abandoned sign-ups: participants who signed up on the web or by SMS more than 30 days ago
  and never confirmed a single phone number or email address (nobody can be alerted through
  them).
What stays: actions, their aggregates, sighting counts and times, the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from config.clock import Clock
from config.logging import log_event
from config.settings import Settings
from db.database import rows_changed
from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Delivery,
    DeliveryEvent,
    Participant,
    PhoneNumber,
    Sighting,
    VerificationCode,
)
from evaluation.aggregates import freeze_action
from participants.selfservice import delete_account

log = logging.getLogger(__name__)

BATCH = 500
SHORT_LIVED = timedelta(days=1)  # expired codes and the per-IP request log
ABANDONED_SIGNUP = timedelta(days=30)
SELF_SIGNUP_SOURCES = ("signup", "sms")  # the web form, the SMS keyword (messaging.inbound_sms)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    actions_frozen: int
    deliveries_deleted: int
    delivery_events_deleted: int
    sightings_anonymised: int
    recordings_deleted: int
    recordings_missing: int
    verification_codes_deleted: int
    request_log_deleted: int
    abandoned_signups_deleted: int


def purge(session: Session, clock: Clock, settings: Settings) -> PurgeReport:
    if settings.retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = clock.now()
    cutoff = now - timedelta(days=settings.retention_days)

    frozen = deliveries = events = 0
    old_actions = session.scalars(
        select(Action.id)
        .where(Action.status == ActionStatus.ENDED, Action.ended_at < cutoff)
        .order_by(Action.id)
    ).all()
    for start in range(0, len(old_actions), BATCH):
        chunk = old_actions[start : start + BATCH]
        for action in session.scalars(select(Action).where(Action.id.in_(chunk))):
            frozen += freeze_action(session, action)
        d, e = _delete_deliveries(session, Delivery.action_id.in_(chunk))
        deliveries += d
        events += e
    # Verification calls belong to no action.
    d, e = _delete_deliveries(session, (Delivery.action_id.is_(None)) & (Delivery.created_at < cutoff))
    deliveries += d
    events += e

    sightings_done = recordings_deleted = recordings_missing = 0
    old_sightings = session.scalars(
        select(Sighting).where(
            Sighting.received_at < cutoff,
            (Sighting.recording_path.is_not(None))
            | (Sighting.caller_number.is_not(None))
            | (Sighting.participant_id.is_not(None)),
        )
    ).all()
    for sighting in old_sightings:
        if sighting.recording_path:
            deleted = _delete_recording(sighting.recording_path, settings.recordings_dir)
            recordings_deleted += deleted
            recordings_missing += not deleted
        sighting.recording_path = None
        sighting.caller_number = None
        sighting.participant_id = None
        sightings_done += 1

    codes = rows_changed(
        session, delete(VerificationCode).where(VerificationCode.expires_at < now - SHORT_LIVED)
    )
    requests = rows_changed(
        session,
        delete(AuditEvent).where(AuditEvent.event == "portal.request", AuditEvent.at < now - SHORT_LIVED),
    )
    abandoned = _delete_abandoned_signups(session, clock, now - ABANDONED_SIGNUP)
    session.flush()

    report = PurgeReport(
        cutoff=cutoff,
        actions_frozen=frozen,
        deliveries_deleted=deliveries,
        delivery_events_deleted=events,
        sightings_anonymised=sightings_done,
        recordings_deleted=recordings_deleted,
        recordings_missing=recordings_missing,
        verification_codes_deleted=codes,
        request_log_deleted=requests,
        abandoned_signups_deleted=abandoned,
    )
    log_event(log, "retention.purged", logging.INFO, **{k: str(v) for k, v in report.__dict__.items()})
    return report


def _delete_abandoned_signups(session: Session, clock: Clock, before: datetime) -> int:
    verified_phone = select(PhoneNumber.participant_id).where(PhoneNumber.verified.is_(True))
    stale = session.scalars(
        select(Participant).where(
            Participant.source.in_(SELF_SIGNUP_SOURCES),
            Participant.created_at < before,
            Participant.email_verified.is_(False),
            Participant.id.not_in(verified_phone),
        )
    ).all()
    for participant in stale:
        delete_account(session, clock, participant)
    return len(stale)


def _delete_deliveries(session: Session, condition) -> tuple[int, int]:
    ids = session.scalars(select(Delivery.id).where(condition)).all()
    deliveries = events = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        session.execute(update(Sighting).where(Sighting.delivery_id.in_(chunk)).values(delivery_id=None))
        events += rows_changed(session, delete(DeliveryEvent).where(DeliveryEvent.delivery_id.in_(chunk)))
        deliveries += rows_changed(session, delete(Delivery).where(Delivery.id.in_(chunk)))
    return deliveries, events


def _delete_recording(path: str, recordings_dir: Path) -> bool:
    """Delete a recording file; relative paths are under the recordings folder."""
    file = Path(path)
    if not file.is_absolute():
        file = recordings_dir / file
    try:
        file.unlink()
        return True
    except FileNotFoundError:
        log_event(log, "retention.recording_missing", level=logging.WARNING, path=str(file))
        return False
