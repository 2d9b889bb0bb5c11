"""Configuration checked at start: a process refuses to run on settings that are unsafe for its
phone backend, with a message that names the setting to change.

`check_configuration(settings, role, engine)` lists every problem; `refuse_bad_configuration`
raises `ConfigurationRefused` when there is one. The web tier calls it from `create_app()` (when
the app is built from the environment, as gunicorn does through `web.wsgi`); `dialer run`,
`scheduler run` and `ivr serve` call it with their role. What is checked:

- default or missing secrets outside training mode: the Flask secret key, the AMI secret
  (Asterisk), the Twilio auth token (Twilio);
- a Twilio public URL Twilio cannot reach: http instead of https, localhost, a loopback,
  private, link-local or unspecified address, a `.local`/`.internal`/`.lan` name;
- a session cookie without Secure while a public URL is https;
- the Asterisk sound and recording directories: missing, not a directory, or not writable;
- training mode (the simulated network) on a database that holds verified participants that
  are not demo participants (the demo's `external_ref` starts with `demo-`): a training
  database must never be a copy of the real registry.

The database check uses plain SQL on the engine it is given (config/ sits below db/).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from config.settings import Settings

ROLES = ("web", "dialer", "ivr", "scheduler")
# Secrets that ship in code, documentation or the demo: never valid outside training mode.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "burgernet", "burgernet-demo", "secret", "changeme", "change-me", "bench", "dev", "test"}
)
MIN_SECRET_KEY_CHARS = 32
UNREACHABLE_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home", ".invalid", ".test")
# Which roles need which Asterisk directory to be writable: the dialer renders prompts into
# the sounds directory, the FastAGI server records into the recordings directory; the web tier
# reads both (preview, recordings), so it needs them to exist.
ASTERISK_DIR_ROLES = {"dialer", "ivr", "web"}
ASTERISK_DIR_WRITERS = {"dialer", "ivr"}


@dataclass(frozen=True)
class Problem:
    setting: str  # the environment variable to change, e.g. BURGERNET_ASTERISK__AMI_SECRET
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


class ConfigurationRefused(RuntimeError):
    """Raised at start when the configuration is unsafe; its text names every setting."""

    def __init__(self, role: str, problems: list[Problem]):
        self.role = role
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"burgernet {role}: refusing to start, fix the configuration:\n{lines}")


def check_configuration(settings: Settings, role: str, engine: Any | None = None) -> list[Problem]:
    """Every problem of `settings` for a process of `role` (web, dialer, ivr, scheduler)."""
    if role not in ROLES:
        raise ValueError(f"unknown process role {role!r}")
    problems: list[Problem] = []
    if not settings.training_mode:
        problems += _secrets(settings)
    if settings.phone_backend == "twilio":
        problems += _twilio_public_url(settings.twilio.public_base_url)
    problems += _cookies(settings)
    if settings.phone_backend == "asterisk" and role in ASTERISK_DIR_ROLES:
        problems += _asterisk_dirs(settings, writable=role in ASTERISK_DIR_WRITERS)
    if settings.phone_backend == "asterisk" and not settings.training_mode:
        problems += _asterisk_links(settings)
    if settings.training_mode and engine is not None:
        problems += _training_database(engine)
    return problems


def refuse_bad_configuration(settings: Settings, role: str, engine: Any | None = None) -> None:
    problems = check_configuration(settings, role, engine)
    if problems:
        raise ConfigurationRefused(role, problems)


def _secrets(settings: Settings) -> list[Problem]:
    problems = []
    key = settings.secret_key
    if not key:
        problems.append(
            Problem(
                "BURGERNET_SECRET_KEY",
                "not set: outside training mode the session secret must be configured (the same on "
                f"every web worker and host), at least {MIN_SECRET_KEY_CHARS} random characters",
            )
        )
    elif key.lower() in KNOWN_DEFAULT_SECRETS or len(key) < MIN_SECRET_KEY_CHARS:
        problems.append(
            Problem(
                "BURGERNET_SECRET_KEY",
                f"a default or short secret; use at least {MIN_SECRET_KEY_CHARS} random characters",
            )
        )
    if settings.phone_backend == "asterisk" and settings.asterisk.ami_secret.lower() in KNOWN_DEFAULT_SECRETS:
        problems.append(
            Problem(
                "BURGERNET_ASTERISK__AMI_SECRET",
                "the default AMI secret; set the secret of the AMI user in Asterisk's manager.conf",
            )
        )
    if settings.phone_backend == "twilio" and settings.twilio.auth_token.lower() in KNOWN_DEFAULT_SECRETS:
        problems.append(
            Problem(
                "BURGERNET_TWILIO__AUTH_TOKEN",
                "not set or a default: the account's auth token signs and verifies every webhook",
            )
        )
    if settings.smtp.username and settings.smtp.password.lower() in KNOWN_DEFAULT_SECRETS:
        problems.append(Problem("BURGERNET_SMTP__PASSWORD", "an SMTP user with an empty or default password"))
    return problems


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _asterisk_links(settings: Settings) -> list[Problem]:
    """AMI carries the AMI secret and every call's events: in the clear only on this host.
    The FastAGI server must not take calls from anywhere."""
    problems = []
    asterisk = settings.asterisk
    if not _is_loopback(asterisk.ami_host) and not asterisk.ami_tls:
        problems.append(
            Problem(
                "BURGERNET_ASTERISK__AMI_TLS",
                f"AMI to another host ({asterisk.ami_host}) without TLS: enable tlsenable in Asterisk's "
                "manager.conf and set ami_tls (and ami_port to its TLS port, usually 5039)",
            )
        )
    for peer in asterisk.fastagi_allowed_peers:
        if ipaddress.ip_network(peer, strict=False).prefixlen == 0:
            problems.append(
                Problem(
                    "BURGERNET_ASTERISK__FASTAGI_ALLOWED_PEERS",
                    f"{peer} lets anyone run calls on the FastAGI server; list the PBXs' addresses",
                )
            )
    return problems


def unreachable_reason(url: str) -> str | None:
    """Why a remote service (Twilio) cannot reach `url`, or None when it can."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https":
        return "must be an https:// URL (Twilio reaches the webhooks over TLS)"
    host = (parts.hostname or "").lower()
    if not host:
        return "has no host name"
    if host == "localhost" or host.endswith(UNREACHABLE_SUFFIXES) or "." not in host and ":" not in host:
        return f"the host {host!r} is not a public name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return f"the address {host} is not public (loopback, private or reserved)"
    return None


def _twilio_public_url(url: str) -> list[Problem]:
    reason = unreachable_reason(url)
    if reason is None:
        return []
    return [Problem("BURGERNET_TWILIO__PUBLIC_BASE_URL", f"{url!r} cannot be reached by Twilio: {reason}")]


def _cookies(settings: Settings) -> list[Problem]:
    if settings.web.session_cookie_secure:
        return []
    https = [
        name
        for name, url in (
            ("BURGERNET_TWILIO__PUBLIC_BASE_URL", settings.twilio.public_base_url),
            ("BURGERNET_PORTAL__PUBLIC_BASE_URL", settings.portal.public_base_url),
        )
        if url.strip().lower().startswith("https://")
    ]
    if not https:
        return []
    return [
        Problem(
            "BURGERNET_WEB__SESSION_COOKIE_SECURE",
            f"false while the site is served over https ({', '.join(https)}): set it to true so the "
            "session cookie never travels in clear text",
        )
    ]


def _asterisk_dirs(settings: Settings, *, writable: bool) -> list[Problem]:
    problems = []
    for setting, raw in (
        ("BURGERNET_ASTERISK__SOUNDS_DIR", settings.asterisk.sounds_dir),
        ("BURGERNET_ASTERISK__RECORDINGS_DIR", settings.asterisk.recordings_dir),
    ):
        path = Path(raw)
        if not path.exists():
            problems.append(Problem(setting, f"the directory {raw} does not exist"))
        elif not path.is_dir():
            problems.append(Problem(setting, f"{raw} is not a directory"))
        elif writable and not os.access(path, os.W_OK | os.X_OK):
            problems.append(Problem(setting, f"the directory {raw} is not writable by this process"))
        elif not os.access(path, os.R_OK | os.X_OK):
            problems.append(Problem(setting, f"the directory {raw} is not readable by this process"))
    return problems


REAL_PARTICIPANTS_SQL = text(
    "SELECT count(*) FROM participant p"
    " WHERE (p.external_ref IS NULL OR p.external_ref NOT LIKE 'demo-%')"
    " AND (p.email_verified = :yes OR EXISTS ("
    "   SELECT 1 FROM phone_number n WHERE n.participant_id = p.id AND n.verified = :yes))"
)


def real_participant_count(engine: Any) -> int | None:
    """Verified participants that are not from the demo; None when the schema is not there yet."""
    try:
        with engine.connect() as connection:
            return int(connection.execute(REAL_PARTICIPANTS_SQL, {"yes": True}).scalar() or 0)
    except SQLAlchemyError:
        return None


def _training_database(engine: Any) -> list[Problem]:
    count = real_participant_count(engine)
    if not count:
        return []
    return [
        Problem(
            "BURGERNET_PHONE_BACKEND",
            f"training mode (simulator) on a database with {count} verified participants that are "
            "not demo participants: point DATABASE_URL at a training database, or choose the real "
            "backend (asterisk or twilio)",
        )
    ]
