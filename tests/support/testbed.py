"""The Asterisk testbed and its sipp phones, driven from Python (end-to-end tests, benchmark).

`scripts/asterisk-testbed` builds and runs Asterisk itself; this module only calls it, and runs
sipp instances that play participant phones, the centralist's phone and callers to the
call-back number. Scenarios are templates under tests/e2e/asterisk/scenarios/ with `@name@`
placeholders.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import PROJECT_ROOT

TESTBED_SCRIPT = PROJECT_ROOT / "scripts" / "asterisk-testbed"
SCENARIOS_DIR = PROJECT_ROOT / "tests" / "e2e" / "asterisk" / "scenarios"
SIPP_SHARE = Path("/usr/share/sip-tester")
PHONES_PORT = 5070  # the trunk's contact in config/asterisk/burgernet_pjsip.conf
CENTRALIST_PORT = 5080  # the centralist endpoint's contact
ASTERISK_SIP = "127.0.0.1:5060"
# An AMI user with a non-default secret (config/asterisk/testbed/manager_users.conf), for the
# platform's processes, which refuse the shipped default secret outside training mode.
PRODUCTION_AMI_USER = "burgernet-production"
PRODUCTION_AMI_SECRET = "testbed-production-ami-secret-7c1e5b0a"


# The self-signed certificate of the testbed AMI's TLS port (scripts/asterisk-testbed tls_keys).
AMI_TLS_CERT = (
    Path(os.environ.get("BURGERNET_TESTBED_CHROOT") or PROJECT_ROOT / ".cache" / "asterisk-chroot")
    / "etc/asterisk/keys/ami-testbed.crt"
)


class TestbedError(RuntimeError):
    """The testbed could not be built, started or used."""


@dataclass(frozen=True)
class TestbedInstance:
    """One Asterisk of the testbed (`scripts/asterisk-testbed ... --instance N`): instance 1 is
    the default PBX; instance N has its ports moved by (N-1)*100 and its own directories, so
    several PBXs run side by side from the same chroot."""

    __test__ = False  # not a pytest test class, whatever its name
    number: int = 1

    @property
    def offset(self) -> int:
        return (self.number - 1) * 100

    @property
    def ami_port(self) -> int:
        return 5038 + self.offset

    @property
    def ami_tls_port(self) -> int:
        """AMI over TLS (config/asterisk/testbed/manager.conf), certificate AMI_TLS_CERT."""
        return 5039 + self.offset

    @property
    def sip_port(self) -> int:
        return 5060 + self.offset

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def phones_port(self) -> int:
        """Where the trunk's contact points: the participant phones (sipp) of this PBX."""
        return PHONES_PORT + self.offset

    @property
    def centralist_port(self) -> int:
        return CENTRALIST_PORT + self.offset

    @property
    def phones_media_port(self) -> int:
        return 6000 + self.offset * 10

    def pid(self) -> int | None:
        """The running Asterisk's process id (from the testbed's pid file), or None."""
        name = "asterisk.pid" if self.number == 1 else f"asterisk-{self.number}.pid"
        path = PROJECT_ROOT / ".cache" / "asterisk-testbed" / name
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _args(self, command: str) -> list[str]:
        return [str(TESTBED_SCRIPT), command, "--instance", str(self.number)]

    def running(self) -> bool:
        return subprocess.run(self._args("status"), capture_output=True, text=True).returncode == 0

    def start(self, timeout_s: float = 600) -> float:
        """Start this PBX (building the chroot the first time); returns the seconds it took."""
        started = time.monotonic()
        try:
            result = subprocess.run(self._args("start"), capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise TestbedError(f"asterisk-testbed start took longer than {timeout_s:.0f} s") from exc
        if result.returncode != 0:
            raise TestbedError(
                f"asterisk-testbed start --instance {self.number} failed: {result.stderr.strip()[-2000:]}"
            )
        return time.monotonic() - started

    def stop(self) -> None:
        subprocess.run(self._args("stop"), capture_output=True, text=True, timeout=60)

    def cli(self, command: str) -> str:
        result = subprocess.run([*self._args("cli"), command], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise TestbedError(
                f"asterisk CLI {command!r} (instance {self.number}) failed: {result.stderr.strip()}"
            )
        return result.stdout

    def phones(self, workdir: Path, **options) -> Sipp:
        """This PBX's participant phones (see `phone_farm`), their SIP messages always logged
        (`<label>.messages.log`, read with bench.asterisk.phone_calls)."""
        options.setdefault("label", f"phones-{self.number}")
        options.setdefault("trace_messages", True)
        return phone_farm(workdir, port=self.phones_port, media_port=self.phones_media_port, **options)


DEFAULT_INSTANCE = TestbedInstance(1)


def testbed_running() -> bool:
    return DEFAULT_INSTANCE.running()


def start_testbed(timeout_s: float = 600) -> float:
    """Start the testbed (building the chroot the first time); returns the seconds it took."""
    return DEFAULT_INSTANCE.start(timeout_s)


def stop_testbed() -> None:
    DEFAULT_INSTANCE.stop()


def asterisk_cli(command: str) -> str:
    return DEFAULT_INSTANCE.cli(command)


def render_scenario(name: str, directory: Path, **params: object) -> Path:
    """Fill a scenario template's @placeholders@ and write it into `directory`."""
    text = (SCENARIOS_DIR / name).read_text()
    values = {"scenarios": str(SCENARIOS_DIR), "sipp_share": str(SIPP_SHARE), **params}
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    leftover = sorted(set(re.findall(r"@[a-z_]+@", text)))
    if leftover:
        raise TestbedError(f"scenario {name}: placeholders without a value: {leftover}")
    path = directory / name
    path.write_text(text)
    return path


class Sipp:
    """One sipp process, stopped on exit; its logs stay in `workdir` for a failing test."""

    def __init__(self, args: list[str], workdir: Path, label: str):
        if shutil.which("sipp") is None:
            raise TestbedError("sipp missing: run scripts/setup --test (package sip-tester)")
        self.workdir = workdir
        self.label = label
        self.args = [
            "sipp",
            *args,
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(workdir / f"{label}.errors.log"),
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> Sipp:
        self.output = open(self.workdir / f"{self.label}.out", "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            self.args,
            cwd=self.workdir,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(0.3)
        if self.process.poll() is not None:
            raise TestbedError(f"sipp {self.label} exited at once: {self.log_tail()}")
        return self

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if getattr(self, "output", None):
            self.output.close()

    def log_tail(self, chars: int = 2000) -> str:
        parts = []
        for suffix in (".out", ".errors.log"):
            path = self.workdir / f"{self.label}{suffix}"
            if path.exists():
                parts.append(path.read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    def __enter__(self) -> Sipp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def phone_farm(
    workdir: Path,
    *,
    port: int = PHONES_PORT,
    media_port: int = 6000,
    dtmf_delay_ms: int = 4000,
    hangup_after_ms: int = 120_000,
    label: str = "phones",
    trace_messages: bool = False,
) -> Sipp:
    """The participant phones (see phones.xml for the number plan)."""
    scenario = render_scenario(
        "phones.xml", workdir, dtmf_delay_ms=dtmf_delay_ms, hangup_after_ms=hangup_after_ms
    )
    extra = ["-trace_msg", "-message_file", str(workdir / f"{label}.messages.log")] if trace_messages else []
    return Sipp(
        [
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media_port),
            "-max_socket",
            "2000",
            "-t",
            "u1",
            *extra,
        ],
        workdir,
        label,
    )


def centralist_phone(workdir: Path, *, hangup_after_ms: int = 60_000) -> Sipp:
    """The centralist's phone: answers a transfer and listens (phones.xml, default behaviour).
    Its SIP messages are kept in `centralist.messages.log`."""
    return phone_farm(
        workdir,
        port=CENTRALIST_PORT,
        media_port=6100,
        hangup_after_ms=hangup_after_ms,
        label="centralist",
        trace_messages=True,
    )


def callback_caller(
    workdir: Path,
    *,
    caller: str,
    dialed: str = "08000011",
    digit: str = "1",
    digit_at_ms: int = 8000,
    speak_after_ms: int = 6000,
    stay_ms: int = 20_000,
    port: int = 5090,
    local_ip: str = "127.0.0.1",
) -> Sipp:
    """One call to the call-back number that presses `digit`, speaks and hangs up (sipp -m 1).
    From 127.0.0.1 the call comes in on the platform's trunk; from 127.0.0.4 on the testbed
    PBX's own trunk (`pbx-provider`, context `from-pstn`)."""
    scenario = render_scenario(
        "callback_caller.xml",
        workdir,
        caller=caller,
        dialed=dialed,
        dtmf_pcap=str(SIPP_SHARE / f"dtmf_2833_{digit}.pcap"),
        digit_at_ms=digit_at_ms,
        speak_after_ms=speak_after_ms,
        stay_ms=stay_ms,
    )
    return Sipp(
        [
            "-sf",
            str(scenario),
            ASTERISK_SIP,
            "-m",
            "1",
            "-i",
            local_ip,
            "-p",
            str(port),
            "-mi",
            local_ip,
            "-mp",
            "6200",
            "-t",
            "u1",
        ],
        workdir,
        "caller",
    )


def scratch_dir(prefix: str = "burgernet-sipp-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def point_inbound_calls_at(fastagi_address: str) -> None:
    """Calls to the call-back number use the dialplan global BURGERNET_FASTAGI (outgoing calls
    carry their own); point it at this FastAGI server until the testbed restarts."""
    asterisk_cli(f"dialplan set global BURGERNET_FASTAGI {fastagi_address}")
