"""Fixtures for the end-to-end tests against the real Asterisk testbed and sipp phones.

The testbed is started once per session (and stopped again if this session started it). When
it cannot be built or started, the tests are skipped on a developer machine and FAIL in CI
(CI=true): a broken testbed must never pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from asterisk_e2e import NO_FASTAGI_PORT, EventLog

from config.settings import AsteriskSettings
from tests.support import testbed

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"Asterisk testbed unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"Asterisk testbed unavailable: {reason}")


@pytest.fixture(scope="session")
def asterisk_testbed():
    if os.geteuid() != 0:
        _unavailable("needs root (debootstrap, chroot, mount)")
    started_here = False
    if not testbed.testbed_running():
        try:
            seconds = testbed.start_testbed()
        except testbed.TestbedError as exc:
            _unavailable(str(exc))
        started_here = True
        print(f"asterisk testbed started in {seconds:.1f} s")
    yield
    if started_here:
        testbed.stop_testbed()


@pytest.fixture(scope="module")
def sipp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sipp")


@pytest.fixture(scope="module")
def phones(asterisk_testbed, sipp_dir):
    """The participant phones on the trunk (number plan in scenarios/phones.xml)."""
    farm = testbed.phone_farm(sipp_dir, dtmf_delay_ms=2500, hangup_after_ms=30_000)
    with farm:
        yield farm


@pytest.fixture
def event_log() -> EventLog:
    return EventLog()


@pytest.fixture
def ami_settings() -> AsteriskSettings:
    return AsteriskSettings(fastagi_port=NO_FASTAGI_PORT, ami_connections=2)
