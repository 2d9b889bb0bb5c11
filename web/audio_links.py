"""Short-lived signed links to rendered audio (prompts.audio's cache).

A cache key is derived from the spoken text, so a key alone must grant nothing: whoever could
compute it from a guessed text (a missing person's name) would otherwise learn whether such an
alert was spoken. A link is therefore valid only with an HMAC over what it serves, whom it is
for and until when:

    sig = HMAC-SHA256(k, purpose \\n key \\n subject \\n expires),  k = HMAC(SECRET_KEY, label)

- `purpose`: "twilio" (Twilio's <Play>) or "console" (the operator's preview); a link of one
  is no link of the other;
- `subject`: what the link is bound to: "delivery:<id>" (an alert or outcome call) or
  "call:<CallSid>" (the call-back line) for Twilio, "room:<id>" (the control room of the
  operator who rendered it) for the console;
- `expires`: a Unix time; Twilio fetches <Play> audio at once, an operator plays a preview
  within minutes.

Pure functions: the caller passes the secret and the time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

_LABEL = b"burgernet.audio-link.v1"

# Twilio fetches a <Play> URL when it reaches the verb: minutes at most after the TwiML.
TWILIO_AUDIO_TTL_S = 600
# An operator listens to a preview while composing the action.
CONSOLE_AUDIO_TTL_S = 1800


@dataclass(frozen=True)
class AudioLink:
    """The query parameters of a signed link: `for`, `exp`, `sig`."""

    subject: str
    expires: int
    signature: str

    def as_query(self) -> dict[str, str]:
        return {"for": self.subject, "exp": str(self.expires), "sig": self.signature}


def _signature(secret: str, purpose: str, key: str, subject: str, expires: int) -> str:
    derived = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()
    message = f"{purpose}\n{key}\n{subject}\n{expires}".encode()
    return hmac.new(derived, message, hashlib.sha256).hexdigest()


def sign_audio(secret: str, purpose: str, key: str, subject: str, now: datetime, ttl_s: int) -> AudioLink:
    if not secret:
        raise ValueError("audio links need a secret key")
    expires = int(now.timestamp()) + ttl_s
    return AudioLink(subject, expires, _signature(secret, purpose, key, subject, expires))


def audio_link_valid(
    secret: str, purpose: str, key: str, subject: str, expires: str, signature: str, now: datetime
) -> bool:
    """True when `signature` was made by sign_audio for exactly this purpose, key, subject and
    expiry, and the expiry has not passed."""
    if not secret or not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return False
    if int(expires) < now.timestamp():
        return False
    expected = _signature(secret, purpose, key, subject, int(expires))
    return hmac.compare_digest(expected, signature)
