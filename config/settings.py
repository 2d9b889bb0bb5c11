"""One typed settings object, read from the environment and an optional `.env` file.

Every variable is prefixed `BURGERNET_`; nested groups use a double underscore, for example
`BURGERNET_ASTERISK__AMI_HOST`. `DATABASE_URL` (unprefixed) switches to PostgreSQL.
The defaults are safe and embedded: SQLite under the instance folder and the simulated phone
network in training mode, so nothing real is ever called by accident.
"""

from __future__ import annotations

import ipaddress
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

PhoneBackend = Literal["simulator", "asterisk", "twilio"]


class AsteriskSettings(BaseModel):
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "burgernet"
    ami_secret: str = "burgernet"
    ami_connections: int = 2
    # AMI over TLS (Asterisk's manager.conf tlsenable, port 5039): required when the PBX is not
    # on this host (config.checks refuses a plain AMI link to another host). The CA file checks
    # the PBX's certificate; empty = the system's CAs.
    ami_tls: bool = False
    ami_tls_ca_file: str = ""
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = 4573
    # Who may connect to the FastAGI server: addresses or networks (CIDR) of the PBXs. Anyone
    # else is refused before a word is read (fastagi.refused_peer).
    fastagi_allowed_peers: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    # How long the server waits for the dialer to store a call's id before refusing the call
    # (the dialer stores it right after the originate batch; the phone may answer sooner).
    fastagi_call_id_wait_s: float = Field(default=5.0, ge=0)
    # FastAGI limits (ivr/fastagi.py). A peer must send its agi_* headers within
    # header_timeout and answer each command within command_timeout (plus the step's own
    # length for RECORD FILE and WaitForSilence; a transfer's GOSUB answers only when the
    # conversation ends, so it has transfer_timeout); otherwise the socket is closed. A line
    # longer than max_line_bytes closes it too. Connections beyond max_sessions are refused
    # at once (logged as fastagi.refused); Asterisk then runs the dialplan's failure path.
    fastagi_header_timeout_s: float = Field(default=10.0, gt=0)
    fastagi_command_timeout_s: float = Field(default=300.0, gt=0)
    fastagi_transfer_timeout_s: float = Field(default=4 * 3600.0, gt=0)
    fastagi_max_line_bytes: int = Field(default=8192, ge=256)
    fastagi_max_header_lines: int = Field(default=200, ge=20)
    fastagi_max_sessions: int = Field(default=400, ge=1)
    # Dial string template for participants; {number} is the E.164 number without '+'. Through
    # the dialplan's [burgernet-out], which counts and limits the trunk's calls.
    dial_template: str = "Local/{number}@burgernet-out"
    originate_context: str = "burgernet-alert"
    fallback_context: str = "burgernet-fallback"
    # Directory where Asterisk reads prompts and writes recordings (as Asterisk sees it).
    sounds_dir: str = "/var/lib/burgernet/sounds"
    recordings_dir: str = "/var/lib/burgernet/recordings"
    # PJSIP endpoints a caller may be put through to (a transfer target `PJSIP/<name>`); the
    # same list as BURGERNET_TRANSFER_ENDPOINTS in the dialplan, which checks it again.
    transfer_endpoints: list[str] = Field(default_factory=lambda: ["burgernet-centralist"])

    @field_validator("fastagi_allowed_peers")
    @classmethod
    def _networks(cls, peers: list[str]) -> list[str]:
        for peer in peers:
            ipaddress.ip_network(peer.strip(), strict=False)  # a ValueError names the bad one
        return [peer.strip() for peer in peers]


class TwilioSettings(BaseModel):
    account_sid: str = ""
    auth_token: str = ""
    # Base URL of Twilio's REST API; tests point this at a local server that speaks the contract.
    api_base_url: str = "https://api.twilio.com"
    from_number: str = ""
    messaging_from: str = ""
    # Public base URL that Twilio uses to reach our webhooks (signatures are computed over it).
    public_base_url: str = "http://127.0.0.1:5000"
    validate_signatures: bool = True
    say_language: str = "nl-NL"
    say_voice: str = "Polly.Lotte"
    cps: float = 1.0
    request_timeout_s: float = 10.0
    # Answering-machine detection (DetectMessageEnd); asynchronous: the alert starts at once.
    machine_detection: bool = True
    async_amd: bool = True
    # SMS sign-up keyword in the style of the old SMS Alert service: "BURGERNET 2611AB 12".
    sms_keyword: str = "BURGERNET"
    # A signed request seen before within this window is a replay and refused.
    replay_window_s: int = 86400
    # <Play> the platform's rendered prompts (the Asterisk voice, an administrator's recorded
    # prompts) instead of Twilio's <Say>.
    play_rendered_audio: bool = False


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    use_ssl: bool = False
    sender: str = "Burgernet <noreply@burgernet.invalid>"


class TtsSettings(BaseModel):
    engine: Literal["espeak", "piper"] = "espeak"
    espeak_voice: str = "nl"
    espeak_speed: int = 150
    mbrola_voice: str = "mb-nl2"
    piper_model: Path | None = None
    piper_binary: str = "piper"


class SimulatedCallbackSettings(BaseModel):
    """Training mode's participants who phone the call-back line (dialer.simulated_callbacks).

    A share (`rate`) of the participants the simulator reached calls back, `delay_min_s` plus
    an exponential delay of mean `delay_mean_s` after they were reached (simulated time), at
    most `max_per_action` per action. What each caller does is drawn by the shares (relative
    weights): record a sighting, ask for the centralist, or hang up early. A simulated
    transfer to the centralist connects with `transfer_answer_rate`; otherwise the caller
    records after "the control room cannot be reached". The draws are seeded by the
    simulator's seed and the delivery, so a test gets the same callers every time.
    """

    rate: float = Field(default=0.03, ge=0.0, le=1.0)
    delay_min_s: float = Field(default=20.0, ge=0.0)
    delay_mean_s: float = Field(default=90.0, gt=0.0)
    max_per_action: int = Field(default=25, ge=0)
    record_share: float = Field(default=0.55, ge=0.0)
    transfer_share: float = Field(default=0.30, ge=0.0)
    hang_up_share: float = Field(default=0.15, ge=0.0)
    transfer_answer_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    # How many due callers one run of the scheduler's job lets call (the rest call at its next run).
    per_run: int = Field(default=5, ge=1)


class SimulatorSettings(BaseModel):
    """The simulated phone network (training mode). Rates are per call attempt and sum to 1."""

    answer_rate: float = 0.70
    busy_rate: float = 0.10
    no_answer_rate: float = 0.10
    failure_rate: float = 0.03
    machine_rate: float = 0.07
    ring_mean_s: float = 8.0
    listen_mean_s: float = 30.0
    # Concurrent channels of the simulated network's trunk.
    channels: int = 500
    # Simulated seconds per real second (1 = real time; 60 runs a 30-minute wave in 30 s).
    time_scale: float = 1.0
    seed: int = 7
    callbacks: SimulatedCallbackSettings = SimulatedCallbackSettings()


class DialerSettings(BaseModel):
    # Default trunk when no Trunk row is configured.
    channels: int = 30
    cps: float = 10.0
    dial_timeout_s: int = 30
    busy_retry_delays_s: list[int] = [120, 300, 600]
    no_answer_retry_delays_s: list[int] = [300, 900]
    machine_policy: Literal["leave_message", "retry"] = "leave_message"
    hang_up_in_progress_on_stop: bool = False
    poll_interval_s: float = 0.2
    stale_action_hours: int = 6
    # Token bucket burst, in seconds of the CPS rate (capacity = max(1, cps * burst)).
    cps_burst_s: float = 0.2
    # No more than the trunk's cps calls are claimed in any window this long. A provider that
    # counts calls per second at its own edge sees network and PBX jitter bring the calls of two
    # windows closer together: widen it a little (e.g. 1.1) to keep a margin below its limit.
    cps_window_s: float = 1.0
    # Several running actions share a trunk by incident priority (deliveries.trunk_share); each
    # action with calls waiting gets at least this share of the lines and of the calls per
    # second. Use is counted over the lines held now and the calls started in the last
    # share_window_s.
    min_share: float = Field(default=0.2, ge=0.0, le=0.5)
    share_window_s: float = Field(default=10.0, gt=0)
    # Transient failures (congestion, originate refused) are retried after these delays.
    failed_retry_delays_s: list[int] = [60, 300]
    machine_retry_delays_s: list[int] = [600]
    # A call in flight without news for dial_timeout + grace (or answered for max_call_s) is
    # reconciled: recorded as outcome unknown, never blindly redialled.
    reconcile_grace_s: int = 60
    max_call_s: int = 900
    # The outcome message (afloopbericht) goes out this long after the action ends.
    outcome_delay_s: int = 0
    message_batch: int = 50
    # A loop that has not completed a tick for this long (the database away) ends the process
    # with a non-zero status, so its supervisor (systemd) restarts it.
    max_outage_s: float = 120.0
    # A failed tick is retried after a backoff that doubles from poll_interval_s up to this.
    retry_backoff_max_s: float = 3.0
    # Every process beats its heartbeat row this often (db.heartbeats).
    heartbeat_interval_s: float = 5.0
    # The cluster-wide jobs run in the one process holding the `scheduler` lease: renewed this
    # often, lost when not renewed for scheduler_lease_s (another process takes over).
    scheduler_lease_s: float = 15.0
    scheduler_renew_s: float = 3.0
    simulator: SimulatorSettings = SimulatorSettings()


class WebSettings(BaseModel):
    """The console: sessions, log-in lock-out and the map."""

    # Send the session cookie only over HTTPS (set true behind TLS in production).
    session_cookie_secure: bool = False
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # Failed log-ins from one address (any usernames) within the lock-out window before refusing.
    login_max_failures_per_ip: int = 20
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
    # (werkzeug ProxyFix); 0 = none. Behind a proxy, set it, or every client shares one address.
    trusted_proxies: int = 0
    # Map tiles for the console ({z}/{x}/{y}); empty means no tiles (the page works without).
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tiles_attribution: str = "&copy; OpenStreetMap-bijdragers"
    map_center_lat: float = 52.0116
    map_center_lon: float = 4.3571
    # How often the live action page gets new figures (server-sent events).
    live_interval_s: float = 1.0
    # Each event stream ends after this long and the browser's EventSource reconnects (resuming
    # from Last-Event-ID), so a viewer holds a server thread only briefly.
    live_stream_s: float = Field(default=20.0, gt=0, le=300)
    max_description_chars: int = 500


class OperationsSettings(BaseModel):
    """Running in production: logs, health, metrics and the web workers' heartbeats."""

    # "plain" (event key=value) or "json" (one JSON object per line); phone numbers are masked
    # in both. BURGERNET_OPS__LOG_FORMAT=json.
    log_format: Literal["plain", "json"] = "plain"
    log_level: str = "INFO"
    # /metrics (Prometheus): with a token, only `Authorization: Bearer <token>` may scrape;
    # without one, only a loopback client (127.0.0.1, ::1) may.
    metrics_token: str = ""
    # Each web worker beats its `web` heartbeat this often (a background thread).
    web_heartbeat_s: float = Field(default=5.0, gt=0)
    # /readyz also needs a live dialer heartbeat (and an ivr one on Asterisk); false for a web
    # tier deployed without dialers (then only the database counts).
    ready_needs_dialer: bool = True


class ParticipantPortalSettings(BaseModel):
    """Sign-up, verification codes and the participants' self-service."""

    code_length: int = 6
    code_ttl_minutes: int = 15
    link_ttl_minutes: int = 60
    max_code_attempts: int = 5
    # Abuse limits: codes sent to one number or address, and requests from one IP, per hour.
    codes_per_target_per_hour: int = 3
    requests_per_ip_per_hour: int = 20
    min_age: int = 16
    # Public base URL for links in emails (the sign-up and self-service pages).
    public_base_url: str = "http://127.0.0.1:5000"
    session_minutes: int = 30


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BURGERNET_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "BURGERNET_DATABASE_URL"),
    )
    instance_path: Path = PROJECT_ROOT / "instance"
    secret_key: str = ""
    phone_backend: PhoneBackend = "simulator"

    # What participants hear and see.
    callback_number: str = "0800-0011"
    # Deliberately different from the call-back number: anonymous calls went unanswered.
    caller_id: str = "0343529850"
    default_region: str = "NL"
    timezone: str = "Europe/Amsterdam"
    # The call-back line asks a caller to speak only when both the recorder's directory
    # (asterisk.recordings_dir) and the platform's recordings store have this much free space
    # (and take a probe write); otherwise the caller is put through or told to call 112.
    recording_min_free_mb: float = Field(default=16.0, ge=0)

    # Default radius (metres) per incident type; the centralist may change it per action.
    radius_by_incident: dict[str, int] = {
        "suspect": 1000,
        "missing_person": 2000,
        "missing_child": 2500,
        "vehicle": 3000,
        "other": 1000,
    }
    # Actions above either limit need a supervisor's confirmation.
    max_radius_without_supervisor_m: int = 5000
    max_recipients_without_supervisor: int = 5000

    # No voice calls in this window (local time) unless the incident type is urgent.
    quiet_hours_start: time | None = time(23, 0)
    quiet_hours_end: time | None = time(7, 0)
    urgent_incident_types: list[str] = ["missing_child", "missing_person"]
    incident_priority: dict[str, int] = {
        "missing_child": 100,
        "missing_person": 80,
        "suspect": 60,
        "vehicle": 40,
        "other": 20,
    }

    retention_days: int = 90
    pdok_base_url: str = "https://api.pdok.nl/bzk/locatieserver/search/v3_1"
    geocoder_timeout_s: float = 5.0

    asterisk: AsteriskSettings = AsteriskSettings()
    twilio: TwilioSettings = TwilioSettings()
    smtp: SmtpSettings = SmtpSettings()
    tts: TtsSettings = TtsSettings()
    dialer: DialerSettings = DialerSettings()
    web: WebSettings = WebSettings()
    portal: ParticipantPortalSettings = ParticipantPortalSettings()
    ops: OperationsSettings = OperationsSettings()

    @property
    def training_mode(self) -> bool:
        """The simulated phone network is training mode: no real phone is ever called."""
        return self.phone_backend == "simulator"

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.instance_path / 'burgernet.sqlite3'}"
        # Accept the common `postgres://` and `postgresql://` spellings; we use psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def audio_cache_dir(self) -> Path:
        return self.instance_path / "audio"

    @property
    def recordings_dir(self) -> Path:
        return self.instance_path / "recordings"

    def ensure_instance_dirs(self) -> None:
        for path in (self.instance_path, self.audio_cache_dir, self.recordings_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
