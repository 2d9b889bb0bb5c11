"""What starting a request now would do: the message on every channel, the recipients by
channel, how long the wave takes at the trunk's limits, whether a supervisor must confirm and
whether quiet hours hold the calls. The count is computed by the same selection the wave is
planned with (participants.selection), so the number the centralist confirms is the number sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from actions.progress import DEFAULT_ANSWER_RATE, DEFAULT_ATTEMPT_S, estimate_wave_seconds, trunk_limits
from actions.request import ActionRequest, compose_text
from actions.supervisor import needs_supervisor
from config.settings import Settings
from db.models import Channel, ControlRoom
from deliveries.quiet_hours import held_until, quiet_window
from participants.selection import count_by_channel, select_recipients
from prompts.callback_number import callback_number_for, sender_for
from prompts.messages import spoken_readings


@dataclass(frozen=True)
class Preview:
    request: ActionRequest
    voice_text: str
    display_text: str
    sms_text: str
    sms_chars: int
    sms_segments: int
    sms_encoding: str
    email_subject: str
    counts: dict[str, int]
    total: int
    participants: int
    eta_s: float
    needs_supervisor: bool
    limits: dict[str, int] = field(default_factory=dict)
    # Quiet hours: voice calls of a non-urgent action wait until this moment (UTC), or None.
    voice_held_until: datetime | None = None
    # How the voice reads each typed text where that differs from what was typed, so the
    # centralist sees a wrong guess (prompts.messages.spoken_readings).
    spoken_readings: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "voice_text": self.voice_text,
            "display_text": self.display_text,
            "sms": {
                "text": self.sms_text,
                "chars": self.sms_chars,
                "segments": self.sms_segments,
                "encoding": self.sms_encoding,
            },
            "email_subject": self.email_subject,
            "counts": self.counts,
            "total": self.total,
            "participants": self.participants,
            "eta_s": round(self.eta_s, 1),
            "needs_supervisor": self.needs_supervisor,
            "limits": self.limits,
            "voice_held_until": self.voice_held_until.isoformat() if self.voice_held_until else None,
            "spoken_readings": self.spoken_readings,
            "radius_m": self.request.radius_m,
            "lat": self.request.lat,
            "lon": self.request.lon,
        }


def preview_action(
    session: Session, request: ActionRequest, control_room_id: int, at: datetime, settings: Settings
) -> Preview:
    """What starting this request now would do: message, recipients by channel, duration."""
    room = session.get(ControlRoom, control_room_id)
    message = compose_text(
        request.incident_type,
        request.description,
        request.free_text,
        callback_number_for(room, settings.callback_number),
        sender_for(room, settings),
        request.location_label,
    )
    recipients = select_recipients(
        session,
        request.lat,
        request.lon,
        request.radius_m,
        at,
        channels=request.channels,
        timezone=settings.timezone,
    )
    by_channel = count_by_channel(recipients)
    counts = {channel: by_channel.get(channel, 0) for channel in request.channels}
    channels, cps = trunk_limits(session, control_room_id, settings)
    # Voice calls set the pace; text messages and emails go out alongside them.
    eta = estimate_wave_seconds(
        counts.get(Channel.VOICE.value, 0), channels, cps, DEFAULT_ATTEMPT_S, DEFAULT_ANSWER_RATE
    )
    participants = len({r.participant_id for r in recipients})
    return Preview(
        request=request,
        voice_text=message.voice,
        display_text=message.display,
        sms_text=message.sms,
        sms_chars=len(message.sms),
        sms_segments=message.sms_segments,
        sms_encoding=message.sms_encoding,
        email_subject=message.email_subject,
        counts=counts,
        total=len(recipients),
        participants=participants,
        eta_s=eta,
        needs_supervisor=needs_supervisor(
            request.radius_m,
            len(recipients),
            max_radius_m=settings.max_radius_without_supervisor_m,
            max_recipients=settings.max_recipients_without_supervisor,
        ),
        limits={
            "radius_m": settings.max_radius_without_supervisor_m,
            "recipients": settings.max_recipients_without_supervisor,
        },
        voice_held_until=(
            held_until(
                quiet_window(room, settings), request.incident_type in settings.urgent_incident_types, at
            )
            if Channel.VOICE.value in request.channels
            else None
        ),
        spoken_readings=spoken_readings(request.incident_type, dict(request.description), request.free_text),
    )
