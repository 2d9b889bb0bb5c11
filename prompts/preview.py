"""What the web preview of an action needs, in one call: every channel's text and the audio.

The web layer calls `alert_preview(...)` when the centralist fills the form, shows the texts,
SMS length and encoding, and plays `audio.web` (a WAV browsers play) served by key through
`prompts.audio.find_cached`. Domain errors pass through with their Dutch `user_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

from prompts.audio import RenderedPrompt, render
from prompts.messages import AlertMessage, compose_alert
from prompts.tts import TtsEngine


@dataclass(frozen=True)
class AlertPreview:
    message: AlertMessage
    audio: RenderedPrompt | None

    def as_dict(self) -> dict:
        m = self.message
        return {
            "voice": m.voice,
            "display": m.display,
            "sms": m.sms,
            "sms_chars": len(m.sms),
            "sms_segments": m.sms_segments,
            "sms_encoding": m.sms_encoding,
            "email_subject": m.email_subject,
            "audio_key": self.audio.key if self.audio else None,
            "audio_duration_s": self.audio.duration_s if self.audio else None,
        }


def alert_preview(
    incident_type: str,
    description: dict,
    free_text: str,
    settings,
    area: str = "",
    with_audio: bool = True,
    engine: TtsEngine | None = None,
) -> AlertPreview:
    """Compose the alert and (by default) render its voice, so pressing start costs nothing:
    the dialer finds the audio already in the cache."""
    message = compose_alert(incident_type, description, free_text, settings.callback_number, area=area)
    audio = render(message.voice, settings, engine) if with_audio else None
    return AlertPreview(message, audio)
