import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import BenchGroup, create_app
from config.checks import ConfigurationRefused
from db.heartbeats import recent
from web.heartbeat import stop_web_heartbeat


def test_login_page_shows_training_mode(client):
    page = client.get("/login").get_data(as_text=True)
    assert "TRAININGSMODUS" in page
    assert "Inloggen" in page


def test_console_requires_login_and_healthz_is_open(client):
    assert client.get("/").status_code == 302
    assert client.get("/healthz").get_json() == {"status": "ok"}


# --- what building the app and listing the benchmarks load -----------------------------------

ROOT = Path(__file__).resolve().parent.parent
_LOADED = (
    "import sys\nprint('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('bench', 'tests')))\n"
)


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter from the project root, with a scratch instance."""
    env = {
        **os.environ,
        "BURGERNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BURGERNET_DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
    }
    env.pop("PYTHONPATH", None)
    env.pop("DATABASE_URL", None)  # it would win over BURGERNET_DATABASE_URL
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def _loaded(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith("LOADED "))
    return ast.literal_eval(line.removeprefix("LOADED "))


def test_create_app_imports_nothing_from_bench_or_tests(tmp_path):
    result = _python("import app\napp.create_app()\n" + _LOADED, tmp_path)
    assert _loaded(result.stdout) == []


def test_the_checks_see_a_loaded_benchmark(tmp_path):
    # The check above must be able to fail: importing a benchmark shows up in sys.modules.
    result = _python("import app\napp.create_app()\nimport bench.tts\n" + _LOADED, tmp_path)
    assert "bench.tts" in _loaded(result.stdout)


def test_bench_help_lists_the_benchmarks_without_importing_them(tmp_path):
    code = (
        "import app\n"
        "try:\n"
        "    app.cli(['bench', '--help'], prog_name='burgernet')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n" + _LOADED
    )
    result = _python(code, tmp_path)
    assert _loaded(result.stdout) == []
    listed = result.stdout.split("Commands:", 1)[1]
    for name, (_module, _attribute, summary) in BenchGroup.BENCHMARKS.items():
        assert name in listed and summary.split()[0] in listed
    assert set(BenchGroup.BENCHMARKS) >= {
        "select",
        "dialer",
        "asterisk",
        "fastagi",
        "twilio",
        "evaluation",
        "tts",
    }


def test_a_benchmark_is_loaded_when_asked_for_and_alone(tmp_path):
    code = (
        "import app\n"
        "try:\n"
        "    app.cli(['bench', 'tts', '--help'], prog_name='burgernet')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n" + _LOADED
    )
    loaded = _loaded(_python(code, tmp_path).stdout)
    assert "bench.tts" in loaded
    assert not {"bench.select", "bench.asterisk", "bench.dialer"} & set(loaded)


# --- the production app: configuration refused, heartbeats --------------------------------


def _production_settings(settings, tmp_path):
    settings.phone_backend = "twilio"
    settings.secret_key = "x" * 40
    settings.twilio.auth_token = "0123456789abcdef0123456789abcdef"
    settings.twilio.public_base_url = "https://burgernet.example.nl"
    settings.web.session_cookie_secure = True
    settings.ops.web_heartbeat_s = 0.2
    return settings


def test_the_production_app_refuses_an_unsafe_configuration(settings, tmp_path):
    settings = _production_settings(settings, tmp_path)
    settings.twilio.public_base_url = "http://127.0.0.1:5000"
    with pytest.raises(ConfigurationRefused, match="BURGERNET_TWILIO__PUBLIC_BASE_URL"):
        create_app(settings, production=True)
    create_app(settings)  # tests and benchmarks pass their own settings and are not checked


def test_each_production_worker_beats_a_web_heartbeat(settings, tmp_path, db):
    app = create_app(_production_settings(settings, tmp_path), production=True)
    assert recent(db) == []  # the first request starts the beating
    assert app.test_client().get("/healthz").status_code == 200
    for _ in range(100):
        beats = [p for p in recent(db) if p.role == "web"]
        if beats:
            break
        time.sleep(0.1)
    assert len(beats) == 1 and beats[0].alive and beats[0].detail["backend"] == "twilio"
    stop_web_heartbeat(app)
    assert [p.status for p in recent(db) if p.role == "web"] == ["stopped"]
    app.extensions["burgernet.db"].dispose()
