"""The platform as it is installed in production: a built wheel, not the source checkout.

The fast tests read pyproject.toml: every top-level folder of the platform is a listed package and
every data file in them matches a package-data pattern. The slow one builds the wheel from a copy of
the source tree, installs it into a fresh virtualenv (no system site-packages, no editable install),
and runs that installation's `burgernet db upgrade` on an empty SQLite file and an empty PostgreSQL
database from a directory outside the checkout. The third-party libraries come from the project's
own virtualenv on PYTHONPATH (installing them offline is not possible here), which holds no file of
the platform: a file the wheel leaves out is missing, not found in the checkout.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from config.settings import PROJECT_ROOT
from db.database import alembic_config
from db.models import Base

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
# Benchmarks that drive the test suite's rigs (the Asterisk testbed, the fake AGI peer) run from a
# checkout only; the wheel ships them, but they import `tests.support`, which it does not.
NEEDS_CHECKOUT = {"bench.asterisk", "bench.callback", "bench.fastagi"}
# Building and installing the wheel takes about 15 s: the end-to-end marker (`-m "not e2e"` skips it).
slow = pytest.mark.e2e


def _top_level_packages() -> list[str]:
    return sorted(p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def _package_files(root: Path) -> list[Path]:
    """Every file of the platform's packages under root, as the source tree holds them."""
    files = [Path("app.py")]
    for package in _top_level_packages():
        for path in sorted((root / package).rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                files.append(relative)
    return files


def test_every_top_level_package_is_listed_for_the_wheel():
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    unlisted = [
        p for p in _top_level_packages() if not any(fnmatch.fnmatch(p, pattern) for pattern in include)
    ]
    assert unlisted == []
    assert PYPROJECT["tool"]["setuptools"]["py-modules"] == ["app"]


def test_every_data_file_matches_a_package_data_pattern():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["*"]
    data = [p for p in _package_files(PROJECT_ROOT) if p.suffix != ".py"]
    assert any(p.parts[:2] == ("db", "migrations") for p in data), "the migrations' template is data"
    left_out = [str(p) for p in data if not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)]
    assert left_out == []


def _copy_source(destination: Path) -> Path:
    """The files a build reads, without the checkout's build/, egg-info, caches or instance/."""
    destination.mkdir()
    for name in ("pyproject.toml", "app.py", "README.md"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in _top_level_packages():
        shutil.copytree(PROJECT_ROOT / package, destination / package, ignore=ignore)
    return destination


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv holding only the built wheel; returns (venv, environment, work dir)."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = _copy_source(tmp / "source")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", source])
    (wheel,) = (tmp / "dist").glob("burgernet-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel])
    work = tmp / "elsewhere"
    work.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BURGERNET_", "DATABASE_URL", "PYTHON", "VIRTUAL_ENV"))
    }
    # The libraries only: .pth files (the checkout's editable install) are not read from PYTHONPATH.
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    env["BURGERNET_INSTANCE_PATH"] = str(work / "instance")
    return venv, env, work


def _site_packages(venv: Path) -> Path:
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return site


@slow
def test_the_wheel_holds_every_file_of_the_source_tree(installed):
    venv, _, _ = installed
    site = _site_packages(venv)
    missing = [str(p) for p in _package_files(PROJECT_ROOT) if not (site / p).is_file()]
    assert missing == []
    assert not (site / "alembic.ini").exists() and not (site / "tests").exists()


IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
packages = sys.argv[1:]
found, failed = {}, {}
for name in ["app"] + packages:
    module = importlib.import_module(name)
    found[name] = module.__file__
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, name + "."):
            try:
                found[info.name] = importlib.import_module(info.name).__file__
            except ModuleNotFoundError as exc:
                failed[info.name] = exc.name
print(json.dumps({"found": found, "failed": failed}))
"""
# db/migrations is no package (alembic loads env.py and the revisions from their paths), so the
# walk leaves it out; the upgrade tests below run it.


@slow
def test_every_module_imports_from_the_installed_wheel(installed):
    venv, env, work = installed
    result = _run(
        [venv / "bin" / "python", "-c", IMPORT_EVERY_MODULE, *_top_level_packages()], env=env, cwd=work
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    site = str(_site_packages(venv))
    outside = {name: path for name, path in report["found"].items() if not path.startswith(site)}
    assert outside == {}, "imported from outside the installed wheel"
    assert report["failed"] == dict.fromkeys(NEEDS_CHECKOUT, "tests")
    assert {"app", "db.database", "web.console", "dialer.worker"} <= set(report["found"])


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _upgrade(installed, url: str) -> str:
    venv, env, work = installed
    result = _run([venv / "bin" / "burgernet", "db", "upgrade"], env={**env, "DATABASE_URL": url}, cwd=work)
    return result.stdout


@slow
def test_the_installed_wheel_migrates_an_empty_sqlite_database(installed):
    _, _, work = installed
    path = work / "empty.sqlite3"
    out = _upgrade(installed, f"sqlite:///{path}")
    assert "database at newest schema" in out
    assert _revision(f"sqlite:///{path}") == _head()


@slow
def test_the_installed_wheel_migrates_an_empty_postgresql_database(installed):
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL not set")
    name = f"burgernet_wheel_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        _upgrade(installed, url)
        assert _revision(url) == _head()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
