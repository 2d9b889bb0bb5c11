"""Short-lived signed links to rendered audio (prompts.audio's cache), that do not show the key.

A cache key is derived from the spoken text, so a key must neither grant anything nor be shown:
whoever could compute it from a guessed text (a missing person's name) would otherwise learn,
from a link seen in an access log, whether such an alert was spoken. A link therefore carries
the key sealed (XOR with a pad that only the secret can make, fresh for every link) and is
valid only with an HMAC over what it serves, whom it is for and until when:

    token = nonce + (key XOR HMAC-SHA256(k_seal, purpose \\n nonce \\n subject \\n expires))
    sig   = HMAC-SHA256(k_sign, purpose \\n token \\n subject \\n expires)
    k_seal, k_sign = HMAC(SECRET_KEY, label) with a label each

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
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

_SIGN_LABEL = b"burgernet.audio-link.v1"
_SEAL_LABEL = b"burgernet.audio-link.seal.v1"
_KEY = re.compile(r"[0-9a-f]{64}")  # prompts.audio's cache keys
_NONCE_HEX = 16
_TOKEN = re.compile(r"[0-9a-f]{80}")  # nonce + sealed key

# Twilio fetches a <Play> URL when it reaches the verb: minutes at most after the TwiML.
TWILIO_AUDIO_TTL_S = 600
# An operator listens to a preview while composing the action.
CONSOLE_AUDIO_TTL_S = 1800


@dataclass(frozen=True)
class AudioLink:
    """A signed link: `token` goes in the URL's path, the rest in its query (`as_query`)."""

    token: str
    subject: str
    expires: int
    signature: str

    def as_query(self) -> dict[str, str]:
        return {"for": self.subject, "exp": str(self.expires), "sig": self.signature}


def _derived(secret: str, label: bytes) -> bytes:
    return hmac.new(secret.encode(), label, hashlib.sha256).digest()


def _signature(secret: str, purpose: str, token: str, subject: str, expires: int) -> str:
    message = f"{purpose}\n{token}\n{subject}\n{expires}".encode()
    return hmac.new(_derived(secret, _SIGN_LABEL), message, hashlib.sha256).hexdigest()


def _sealed(secret: str, purpose: str, nonce: str, subject: str, expires: int, key_hex: str) -> str:
    """`key_hex` XOR the pad of this link: sealing and unsealing are the same operation."""
    message = f"{purpose}\n{nonce}\n{subject}\n{expires}".encode()
    pad = hmac.new(_derived(secret, _SEAL_LABEL), message, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(bytes.fromhex(key_hex), pad, strict=True)).hex()


def sign_audio(secret: str, purpose: str, key: str, subject: str, now: datetime, ttl_s: int) -> AudioLink:
    if not secret:
        raise ValueError("audio links need a secret key")
    if not _KEY.fullmatch(key):
        raise ValueError("not an audio cache key")
    expires = int(now.timestamp()) + ttl_s
    nonce = secrets.token_hex(_NONCE_HEX // 2)
    token = nonce + _sealed(secret, purpose, nonce, subject, expires, key)
    return AudioLink(token, subject, expires, _signature(secret, purpose, token, subject, expires))


def audio_key(
    secret: str, purpose: str, token: str, subject: str, expires: str, signature: str, now: datetime
) -> str | None:
    """The cache key a link stands for, when `signature` was made by sign_audio for exactly this
    purpose, token, subject and expiry and the expiry has not passed; else None."""
    if not secret or not _TOKEN.fullmatch(token or ""):
        return None
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return None
    if int(expires) < now.timestamp():
        return None
    expected = _signature(secret, purpose, token, subject, int(expires))
    if not hmac.compare_digest(expected, signature):
        return None
    nonce, sealed = token[:_NONCE_HEX], token[_NONCE_HEX:]
    return _sealed(secret, purpose, nonce, subject, int(expires), sealed)
