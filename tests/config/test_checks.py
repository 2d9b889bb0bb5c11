"""Start-up refusals (issue 12, item 5): every unsafe configuration is refused with a message
naming the setting to change; a sound production configuration starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import cli
from config.checks import ConfigurationRefused, check_configuration, refuse_bad_configuration
from config.settings import PROJECT_ROOT, Settings
from db.database import Database
from db.models import Participant, PhoneKind, PhoneNumber
from db.runtime import Runtime
from tests.support.cli import RuntimeCliRunner

STRONG = "k" * 16 + "9f3a1c7e2b4d6a8c0e1f2a3b"


def production(tmp_path, backend: str, **overrides) -> Settings:
    """A configuration that passes every check for `backend`; tests spoil one thing each."""
    sounds, recordings = tmp_path / "sounds", tmp_path / "recordings"
    sounds.mkdir(exist_ok=True)
    recordings.mkdir(exist_ok=True)
    values: dict = {
        "_env_file": None,
        "instance_path": tmp_path / "instance",
        "phone_backend": backend,
        "secret_key": STRONG,
        "asterisk": {
            "ami_secret": "s3cret-from-manager-conf",
            "sounds_dir": str(sounds),
            "recordings_dir": str(recordings),
        },
        "twilio": {
            "auth_token": "0123456789abcdef0123456789abcdef",
            "public_base_url": "https://burgernet.example.nl",
        },
        "portal": {"public_base_url": "https://burgernet.example.nl"},
        "web": {"session_cookie_secure": True},
    }
    values.update(overrides)
    return Settings(**values)


def settings_named(problems) -> list[str]:
    return [p.setting for p in problems]


@pytest.mark.parametrize("backend", ["asterisk", "twilio"])
def test_a_sound_production_configuration_starts(tmp_path, backend):
    for role in ("web", "dialer", "ivr", "scheduler"):
        assert check_configuration(production(tmp_path, backend), role) == []


@pytest.mark.parametrize("secret", ["", "burgernet", "bench", "too-short-but-random"])
def test_a_default_or_missing_flask_secret_is_refused_outside_training(tmp_path, secret):
    settings = production(tmp_path, "asterisk", secret_key=secret)
    with pytest.raises(ConfigurationRefused) as refused:
        refuse_bad_configuration(settings, "web")
    assert "BURGERNET_SECRET_KEY" in str(refused.value)
    assert refused.value.problems[0].setting == "BURGERNET_SECRET_KEY"


def test_the_default_ami_secret_is_refused(tmp_path):
    settings = production(tmp_path, "asterisk")
    settings.asterisk.ami_secret = "burgernet"
    problems = check_configuration(settings, "dialer")
    assert settings_named(problems) == ["BURGERNET_ASTERISK__AMI_SECRET"]
    assert "default AMI secret" in problems[0].message


def test_a_missing_twilio_auth_token_is_refused(tmp_path):
    settings = production(tmp_path, "twilio")
    settings.twilio.auth_token = ""
    assert settings_named(check_configuration(settings, "web")) == ["BURGERNET_TWILIO__AUTH_TOKEN"]


def test_training_mode_accepts_the_default_secrets(tmp_path):
    settings = Settings(_env_file=None, instance_path=tmp_path / "instance")
    assert settings.training_mode and check_configuration(settings, "web") == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:5000", "https"),
        ("https://127.0.0.1:5000", "not public"),
        ("https://localhost", "not a public name"),
        ("https://10.1.2.3", "not public"),
        ("https://192.168.1.20:8443", "not public"),
        ("https://172.16.0.5", "not public"),
        ("https://169.254.10.1", "not public"),
        ("https://[::1]:5000", "not public"),
        ("https://burgernet.internal", "not a public name"),
        ("https://webserver", "not a public name"),
        ("http://burgernet.example.nl", "https"),
    ],
)
def test_a_twilio_public_url_twilio_cannot_reach_is_refused(tmp_path, url, why):
    settings = production(tmp_path, "twilio")
    settings.twilio.public_base_url = url
    problems = check_configuration(settings, "web")
    assert settings_named(problems) == ["BURGERNET_TWILIO__PUBLIC_BASE_URL"]
    assert url in problems[0].message and why in problems[0].message


def test_the_twilio_url_is_not_checked_on_asterisk(tmp_path):
    settings = production(tmp_path, "asterisk")
    settings.twilio.public_base_url = "http://127.0.0.1:5000"
    assert check_configuration(settings, "web") == []


def test_insecure_session_cookies_behind_https_are_refused(tmp_path):
    settings = production(tmp_path, "twilio")
    settings.web.session_cookie_secure = False
    problems = check_configuration(settings, "web")
    assert settings_named(problems) == ["BURGERNET_WEB__SESSION_COOKIE_SECURE"]
    assert "BURGERNET_TWILIO__PUBLIC_BASE_URL" in problems[0].message


@pytest.mark.parametrize("which", ["sounds_dir", "recordings_dir"])
def test_missing_asterisk_directories_are_refused(tmp_path, which):
    settings = production(tmp_path, "asterisk")
    setattr(settings.asterisk, which, str(tmp_path / "nowhere"))
    problems = check_configuration(settings, "ivr")
    assert settings_named(problems) == [f"BURGERNET_ASTERISK__{which.upper()}"]
    assert "does not exist" in problems[0].message
    # the scheduler does not touch audio
    assert check_configuration(settings, "scheduler") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_recordings_directory_is_refused_for_the_ivr(tmp_path):
    settings = production(tmp_path, "asterisk")
    os.chmod(settings.asterisk.recordings_dir, 0o555)
    try:
        problems = check_configuration(settings, "ivr")
        assert settings_named(problems) == ["BURGERNET_ASTERISK__RECORDINGS_DIR"]
        assert "not writable" in problems[0].message
        assert check_configuration(settings, "web") == []  # the web tier only reads
    finally:
        os.chmod(settings.asterisk.recordings_dir, 0o755)


def test_a_file_where_a_directory_belongs_is_refused(tmp_path):
    """A regular file where a directory belongs fails for every user."""
    settings = production(tmp_path, "asterisk")
    (tmp_path / "file").write_text("x")
    settings.asterisk.sounds_dir = str(tmp_path / "file")
    assert "not a directory" in check_configuration(settings, "dialer")[0].message


def _participant(s, ref: str | None, verified: bool, number: str) -> None:
    p = Participant(name="P", birth_year=1980, channels=["voice"], external_ref=ref)
    p.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=verified))
    s.add(p)


def test_training_mode_refuses_a_database_with_real_verified_participants(db, tmp_path):
    settings = Settings(_env_file=None, instance_path=tmp_path / "instance")
    with db.transaction() as s:
        _participant(s, "demo-00001", True, "+31612340001")  # the demo's: fine
        _participant(s, "import-7", False, "+31612340002")  # not verified: fine
    assert check_configuration(settings, "dialer", db.engine) == []
    with db.transaction() as s:
        _participant(s, "import-8", True, "+31612340003")
        _participant(s, None, True, "+31612340004")
    problems = check_configuration(settings, "dialer", db.engine)
    assert settings_named(problems) == ["BURGERNET_PHONE_BACKEND"]
    assert "2 verified participants that are not demo participants" in problems[0].message
    # the real backends are meant for that database
    assert check_configuration(production(tmp_path, "asterisk"), "dialer", db.engine) == []


def test_the_wsgi_entry_point_refuses_to_start_with_a_default_secret(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_PHONE_BACKEND": "twilio",
        "BURGERNET_TWILIO__AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
        "BURGERNET_TWILIO__PUBLIC_BASE_URL": "https://burgernet.example.nl",
        "BURGERNET_WEB__SESSION_COOKIE_SECURE": "true",
        "BURGERNET_PORTAL__PUBLIC_BASE_URL": "https://burgernet.example.nl",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import web.wsgi"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ConfigurationRefused" in result.stderr and "BURGERNET_SECRET_KEY" in result.stderr
    result = subprocess.run(
        [sys.executable, "-c", "import web.wsgi; print(web.wsgi.app.name)"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT), "BURGERNET_SECRET_KEY": STRONG},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "command", [["dialer", "run"], ["scheduler", "run"], ["ivr", "serve", "--port", "0"]]
)
def test_every_long_running_command_refuses_a_bad_configuration_before_it_starts(tmp_path, command):
    settings = production(tmp_path, "asterisk", database_url=f"sqlite:///{tmp_path / 'b.db'}")
    settings.asterisk.ami_secret = "burgernet"
    runner = RuntimeCliRunner(Runtime(settings=settings, database=Database(settings.sqlalchemy_url)))
    result = runner.invoke(cli, command)
    assert result.exit_code == 1
    assert "refusing to start" in result.output
    assert "BURGERNET_ASTERISK__AMI_SECRET" in result.output


def test_ami_to_another_host_needs_tls_and_fastagi_is_not_open_to_all(tmp_path):
    base = production(tmp_path, "asterisk").asterisk
    remote = base.model_copy(update={"ami_host": "10.20.30.40"})
    problems = check_configuration(production(tmp_path, "asterisk", asterisk=remote.model_dump()), "dialer")
    assert settings_named(problems) == ["BURGERNET_ASTERISK__AMI_TLS"]
    over_tls = remote.model_copy(update={"ami_tls": True, "ami_port": 5039})
    assert (
        check_configuration(production(tmp_path, "asterisk", asterisk=over_tls.model_dump()), "dialer") == []
    )
    open_agi = base.model_copy(update={"fastagi_allowed_peers": ["10.20.30.40", "0.0.0.0/0"]})
    problems = check_configuration(production(tmp_path, "asterisk", asterisk=open_agi.model_dump()), "ivr")
    assert settings_named(problems) == ["BURGERNET_ASTERISK__FASTAGI_ALLOWED_PEERS"]
