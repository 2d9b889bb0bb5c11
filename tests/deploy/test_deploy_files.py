"""deploy/: the systemd units run commands that exist, and every setting they, the environment
file, the reverse proxy and docs/deployment.md name is a real setting.

A unit whose ExecStart names a command or option that does not exist fails only on the production
host, at the worst moment; these tests run each unit's command (with `--help`, or gunicorn's
`--check-config`, which imports the app) from this checkout's virtualenv instead of /opt/burgernet.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from config.checks import check_configuration
from config.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "burgernet.env.example"
INSTALLED_BIN = "/opt/burgernet/bin/"
VENV_BIN = Path(sys.executable).parent
SERVICES = sorted(UNITS.glob("*.service"))
SETTING = re.compile(r"\bBURGERNET_[A-Z0-9_]*[A-Z0-9]\b")
# Variables of the Asterisk dialplan (config/asterisk/burgernet_extensions.conf), not platform settings.
DIALPLAN_VARIABLES = {"BURGERNET_FASTAGI", "BURGERNET_SOUNDS", "BURGERNET_FALLBACK"}
ROLE_OF_UNIT = {
    "burgernet-web.service": "web",
    "burgernet-dialer@.service": "dialer",
    "burgernet-ivr.service": "ivr",
    "burgernet-scheduler.service": "scheduler",
}


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values]}} (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.setdefault(key, []).append(value)
    return sections


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURGERNET_", "DATABASE_URL"))}
    env["BURGERNET_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_every_process_of_the_model_has_its_unit():
    names = {path.name for path in UNITS.iterdir()}
    assert set(ROLE_OF_UNIT) | {"burgernet-migrate.service", "burgernet.target"} <= names


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_unit_reads_the_environment_file_restarts_on_failure_and_is_hardened(path):
    service = _unit(path)["Service"]
    assert service["EnvironmentFile"][0] == "/etc/burgernet/burgernet.env"
    assert service["User"] == ["burgernet"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["ReadWritePaths"] == ["/var/lib/burgernet"]
    assert service["NoNewPrivileges"] == ["yes"]
    if path.name == "burgernet-migrate.service":
        assert service["Type"] == ["oneshot"]
    else:
        assert service["Restart"] == ["on-failure"]
        unit = _unit(path)["Unit"]
        # The schema is migrated before any process of this host starts.
        assert "burgernet-migrate.service" in unit["Requires"]
        assert "burgernet-migrate.service" in unit["After"][0].split()


def _commands() -> list[tuple[str, str]]:
    found = []
    for path in SERVICES:
        for command in _unit(path)["Service"].get("ExecStart", []):
            found.append((path.name, command))
    return found


@pytest.mark.parametrize(("unit", "command"), _commands(), ids=[name for name, _ in _commands()])
def test_the_command_of_a_unit_exists(unit, command, tmp_path):
    argv = shlex.split(command.replace("%i", "pbx1").replace("%H", "host1"))
    assert argv[0].startswith(INSTALLED_BIN), "units run the installed virtualenv's commands"
    program = VENV_BIN / argv[0].removeprefix(INSTALLED_BIN)
    assert program.is_file(), f"{unit}: {argv[0]} is not installed by the package or its dependencies"
    if program.name == "gunicorn":
        # Loads the configuration module and imports the WSGI app, as the unit will.
        check = [str(program), "--check-config", *argv[1:]]
    else:
        assert program.name == "burgernet"
        check = [str(program), *argv[1:], "--help"]  # an unknown command or option fails here
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        check, cwd=work, env=_environment(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{unit}: {check}\n{result.stdout}\n{result.stderr}"


def _field(model: type[BaseModel], path: list[str]) -> bool:
    name, *rest = path
    field = model.model_fields.get(name)
    if field is None:
        return False
    annotation = field.annotation
    group = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if not rest:
        return not group
    return group and _field(annotation, rest)


def _is_setting(variable: str) -> bool:
    path = variable.removeprefix("BURGERNET_").lower().split("__")
    return _field(Settings, path)


def test_every_setting_named_in_deploy_and_the_docs_exists():
    files = [p for p in DEPLOY.rglob("*") if p.is_file()] + [PROJECT_ROOT / "docs" / "deployment.md"]
    named = {
        (p.relative_to(PROJECT_ROOT).as_posix(), v) for p in files for v in SETTING.findall(p.read_text())
    }
    assert len(named) > 20
    unknown = sorted(
        (file, variable)
        for file, variable in named
        if not _is_setting(variable) and variable not in DIALPLAN_VARIABLES
    )
    assert unknown == []


def test_the_setting_check_tells_a_setting_from_a_typo():
    assert _is_setting("BURGERNET_ASTERISK__AMI_SECRET")
    assert not _is_setting("BURGERNET_ASTERISK__AMI_SECRETS")
    assert not _is_setting("BURGERNET_ASTERISK")  # a group, not a setting
    assert not _is_setting("BURGERNET_WEB_TRUSTED_PROXIES")  # one underscore: not nested


def _example_lines(commented: bool) -> dict[str, str]:
    """KEY=value lines of the environment file example (and the commented alternatives)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$" if commented else r"^([A-Z][A-Z0-9_]*)=(.*)$")
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = pattern.match(line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def test_the_environment_file_example_holds_valid_values_for_real_settings(monkeypatch):
    values = _example_lines(commented=False)
    gunicorn_conf = (PROJECT_ROOT / "web" / "gunicorn_conf.py").read_text()
    for key in _example_lines(commented=True):
        if key.startswith("GUNICORN_"):
            assert f'"{key}"' in gunicorn_conf, f"{key} is not read by web/gunicorn_conf.py"
        else:
            assert key == "DATABASE_URL" or _is_setting(key), key
    # Every value parses (no shell quoting: systemd passes values as they are).
    os_env = {k: v for k, v in values.items() if k.startswith("BURGERNET_") or k == "DATABASE_URL"}
    settings = _settings_from(os_env, monkeypatch)
    assert settings.phone_backend == "asterisk" and not settings.training_mode
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
    assert settings.web.trusted_proxies == 1
    assert settings.web.session_cookie_secure
    assert settings.instance_path == Path("/var/lib/burgernet/instance")


def _settings_from(values: dict[str, str], monkeypatch) -> Settings:
    """The settings a process started with exactly these environment variables reads."""
    for key in os.environ:
        if key.startswith("BURGERNET_") or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


@pytest.mark.parametrize("role", sorted(set(ROLE_OF_UNIT.values())))
def test_the_example_filled_in_passes_the_start_checks_of_every_role(role, tmp_path, monkeypatch):
    """The example names everything a production site must set: with the CHANGE values filled in
    and the shared directories present, no process refuses to start."""
    values = {k: v for k, v in _example_lines(commented=False).items() if k != "DATABASE_URL"}
    for key, value in values.items():
        if value.startswith("CHANGE"):
            values[key] = f"{key.lower()}-filled-in-by-the-site-0123456789abcdef"
    for key in ("BURGERNET_ASTERISK__SOUNDS_DIR", "BURGERNET_ASTERISK__RECORDINGS_DIR"):
        directory = tmp_path / key.lower()
        directory.mkdir()
        values[key] = str(directory)
    assert check_configuration(_settings_from(values, monkeypatch), role) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify`: syntax, known keys, sections, executables (from this virtualenv)."""
    for path in UNITS.iterdir():
        text = path.read_text().replace(INSTALLED_BIN, f"{VENV_BIN}/")
        name = path.name.replace("@.service", "@pbx1.service")
        (tmp_path / name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
