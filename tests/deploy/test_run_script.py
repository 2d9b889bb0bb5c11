"""scripts/run, the README's first command: training mode on the production topology.

It migrates and seeds a fresh instance, then runs the dialer, the scheduler and the web console as
separate processes with labelled output; an action started from outside is dialled by the dialer
process on the simulated network, and Ctrl-C stops every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

BURGERNET = Path(sys.executable).parent / "burgernet"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BURGERNET_", "DATABASE_URL"))}
    env["BURGERNET_INSTANCE_PATH"] = str(instance)
    env["BURGERNET_DIALER__SIMULATOR__TIME_SCALE"] = "60"  # a wave in seconds, not minutes
    return env


class Output:
    """The script's output, read on a thread so the pipe never fills."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> str:
        self._thread.join(timeout=30)
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return "\n".join(self.lines[-60:])


def _wait_for(predicate, what: str, output: Output, timeout: float = 180.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"scripts/run ended ({process.returncode}) before {what}:\n{output}")
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen; output so far:\n{output}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _burgernet(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run(
        [str(BURGERNET), *args], env=env, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _default_sigint() -> None:
    # A test runner started in the background ignores SIGINT, and its children would inherit that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_scripts_run_starts_training_as_separate_processes_and_ctrl_c_stops_them(tmp_path):
    port = _free_port()
    env = _environment(tmp_path / "instance")
    process = subprocess.Popen(
        [str(PROJECT_ROOT / "scripts" / "run"), "--no-setup", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: everything it starts is found by it
        preexec_fn=_default_sigint,
    )
    output = Output(process)
    try:
        _wait_for(lambda: _healthy(port), "the web console answering", output, process=process)
        _wait_for(
            lambda: any(line.startswith("[dialer") for line in output.lines),
            "the dialer",
            output,
            process=process,
        )
        started = _burgernet(
            env,
            "action", "start", "--override", "--lat", "52.0116", "--lon", "4.3571", "--radius", "300",
            "--type", "missing_child", "--description", '{"clothing": "rode jas"}', "--channels", "voice",
        )  # fmt: skip
        action_id = started["action_id"]
        assert started["deliveries"] > 10

        def calls_completed():
            progress = _burgernet(env, "action", "progress", "--id", str(action_id))
            return progress if progress["by_state"].get("completed", 0) >= 3 else None

        # Only the dialer process can have placed these calls: the web process runs no dialer.
        progress = _wait_for(calls_completed, "calls completed by the dialer", output, process=process)
        assert progress["answered"] >= 3
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    text = output.join()
    # Nothing it started outlives it.
    _wait_for(lambda: not _group_alive(process.pid), "every process ending", output, timeout=15)
    assert not _healthy(port)
    assert "TRAININGSMODUS" in text
    prefixes = {line.split("]")[0] + "]" for line in text.splitlines() if line.startswith("[")}
    assert {"[run      ]", "[dialer   ]", "[scheduler]", "[web      ]"} <= prefixes
    assert "stopping:" in text and "stopped" in text
