"""Rows made directly for the dialer tests (no selection, no prompts needed)."""

from __future__ import annotations

from db.models import (
    Action,
    ActionStatus,
    Channel,
    Delivery,
    DeliveryKind,
    DeliveryState,
    IncidentType,
    PhoneKind,
)


def make_action(
    session,
    room,
    *,
    incident=IncidentType.SUSPECT,
    status=ActionStatus.RUNNING,
    priority=60,
    urgent=False,
    clock=None,
) -> Action:
    action = Action(
        control_room_id=room.id,
        incident_type=incident,
        lat=52.0116,
        lon=4.3571,
        radius_m=1000,
        status=status,
        priority=priority,
        urgent=urgent,
        description={"clothing": "rode jas", "height_cm": 180},
        channels=[],
        voice_text="Hier volgt een oproep van Burgernet.",
        sms_text="Burgernet: kijk uit.",
        started_at=clock.now() if clock else None,
    )
    session.add(action)
    session.flush()
    return action


def make_deliveries(
    session,
    action,
    count,
    *,
    channel=Channel.VOICE,
    state=DeliveryState.QUEUED,
    prefix="+3115",
    kind=DeliveryKind.ALERT,
    start=0,
) -> list[Delivery]:
    rows = []
    for i in range(start, start + count):
        target = f"{prefix}{i:07d}" if channel != Channel.EMAIL else f"deelnemer{i}@example.nl"
        rows.append(
            Delivery(
                action_id=action.id,
                kind=kind,
                channel=channel,
                target=target,
                phone_kind=PhoneKind.LANDLINE if channel == Channel.VOICE else None,
                distance_m=float(i),
                rank=i,
                priority=action.priority,
                state=state,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows
