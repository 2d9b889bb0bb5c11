"""The PBX side is safe to install on a production Asterisk, tried on the testbed (which runs the
project's burgernet_*.conf snippets inside an "existing PBX" layout, Asterisk as a non-root
user): the platform's AMI user cannot run commands, nobody poses as the trunk from another
address, a hostile transfer target is refused by the dialplan, a call over its absolute
timeout is hung up, and a FastAGI session that is not the delivery's call is refused."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid

import pytest
from asterisk_e2e import wait_until_no_channels
from sqlalchemy import select

from config.clock import SystemClock
from db.models import Delivery, DeliveryEvent, Participant, ParticipantStatus
from deliveries.call_backend import CallEventType as T
from deliveries.call_backend import CallRequest
from dialer.backends.asterisk import AmiError, AmiLink, AsteriskBackend
from ivr.fastagi import build_server
from tests.support import testbed
from tests.support.asterisk_stack import seed_alert_wave

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asterisk,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

CALLER_ID = "0343529850"
CHROOT_LOGS = testbed.PROJECT_ROOT / ".cache" / "asterisk-chroot" / "var" / "log" / "asterisk"


class RawAmi:
    """A plain AMI session (no pyst2), to send exactly what an attacker would."""

    def __init__(self, username: str = "burgernet", secret: str = "burgernet", events: str = "off"):
        self.sock = socket.create_connection(("127.0.0.1", 5038), timeout=10)
        self.file = self.sock.makefile("rb")
        self.file.readline()  # banner
        login = self.send({"Action": "Login", "Username": username, "Secret": secret, "Events": events})
        assert login.get("Response") == "Success", login

    def send(self, action: dict, *variables: str) -> dict:
        """Send `action` (plus one `Variable:` header per variable, as written) and return its
        response."""
        action_id = secrets.token_hex(4)
        lines = [f"{k}: {v}" for k, v in {**action, "ActionID": action_id}.items()]
        lines += [f"Variable: {variable}" for variable in variables]
        text = "\r\n".join(lines) + "\r\n\r\n"
        self.sock.sendall(text.encode())
        while True:
            message = self.read()
            if message.get("ActionID") == action_id and "Response" in message:
                return message

    def read(self) -> dict:
        message: dict = {}
        while True:
            line = self.file.readline().decode(errors="replace")
            if not line:
                raise ConnectionError("AMI closed the connection")
            if line in ("\r\n", "\n"):
                if message:
                    return message
                continue
            key, _, value = line.partition(":")
            message[key.strip()] = value.strip()

    def close(self) -> None:
        self.sock.close()


def test_the_platforms_ami_users_cannot_run_commands_or_write_astdb(asterisk_testbed):
    marker = f"/tmp/burgernet-pwned-{uuid.uuid4().hex[:8]}"
    for user, secret in (
        ("burgernet", "burgernet"),
        (testbed.PRODUCTION_AMI_USER, testbed.PRODUCTION_AMI_SECRET),
    ):
        ami = RawAmi(user, secret)
        try:
            system = ami.send(
                {
                    "Action": "Originate",
                    "Channel": "Local/31690000001@burgernet-out",
                    "Application": "System",
                    "Data": f"touch {marker}",
                    "Async": "true",
                }
            )
            assert system["Response"] == "Error" and "forbidden" in system.get("Message", "").lower(), system
            for action in (
                {"Action": "Command", "Command": "core show version"},
                {"Action": "DBPut", "Family": "burgernet-calls-0", "Key": "x", "Val": "y"},
                {
                    "Action": "UpdateConfig",
                    "SrcFilename": "extensions.conf",
                    "DstFilename": "extensions.conf",
                },
            ):
                refused = ami.send(action)
                assert refused["Response"] == "Error" and "denied" in refused.get("Message", "").lower(), (
                    refused
                )
        finally:
            ami.close()
    time.sleep(0.5)
    assert not (testbed.PROJECT_ROOT / ".cache" / "asterisk-chroot" / marker.lstrip("/")).exists()
    # Asterisk itself runs unprivileged, so even a mistake could not act as root.
    pid = testbed.TestbedInstance(1).pid()
    assert pid is not None
    with open(f"/proc/{pid}/status") as proc:
        uid_line = next(line for line in proc if line.startswith("Uid:"))
    assert uid_line.split()[1] != "0", uid_line


def sip_request(source_ip: str, from_user: str, dialed: str) -> int:
    """Send one INVITE from `source_ip` as `from_user` and return the final response's code."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source_ip, 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    call_id, tag, branch = uuid.uuid4().hex, uuid.uuid4().hex[:8], "z9hG4bK" + uuid.uuid4().hex[:12]
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {source_ip}\r\ns=-\r\nc=IN IP4 {source_ip}\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    )
    invite = (
        f"INVITE sip:{dialed}@{testbed.ASTERISK_SIP} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source_ip}:{port};branch={branch};rport\r\n"
        f"From: <sip:{from_user}@{source_ip}>;tag={tag}\r\n"
        f"To: <sip:{dialed}@{testbed.ASTERISK_SIP}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:{from_user}@{source_ip}:{port}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    )
    host, sip_port = testbed.ASTERISK_SIP.split(":")
    try:
        sock.sendto(invite.encode(), (host, int(sip_port)))
        while True:
            data, _ = sock.recvfrom(65535)
            code = int(data.split(b" ", 2)[1])
            if code >= 200:
                if code < 300:  # never expected here; end the call politely all the same
                    sock.sendto(invite.replace("INVITE", "CANCEL", 1).encode(), (host, int(sip_port)))
                return code
    finally:
        sock.close()


def test_nobody_poses_as_the_trunk_or_the_centralist_from_another_address(asterisk_testbed):
    wait_until_no_channels()
    # The trunk's own address is identified as the trunk: its calls reach the dialplan (a number
    # the platform does not serve is 404 there), so the refusals below are about the address.
    assert sip_request("127.0.0.1", "0612345678", "08009999") == 404
    for user in ("burgernet-trunk", "burgernet-centralist", "softphone", "pbx-provider"):
        assert sip_request("127.0.0.2", user, "08000011") in (401, 403), user
    security = (CHROOT_LOGS / "security.log").read_text(errors="replace")
    assert "127.0.0.2" in security  # for fail2ban


class TransferProbe:
    """A FastAGI server that does what the IVR's transfer step does, with the platform's own
    check bypassed: for each target SET VARIABLE BURGERNET_TRANSFER_TARGET, GOSUB
    burgernet-transfer s 1, GET VARIABLE DIALSTATUS; then HANGUP. The dialplan alone decides."""

    def __init__(self, targets: list[str]):
        self.targets = targets
        self.statuses: dict[str, str] = {}
        self.done = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.settimeout(30)
            lines = conn.makefile("rb")
            while lines.readline().strip():  # the agi_* headers
                pass

            def command(text: str) -> str:
                conn.sendall(text.encode() + b"\n")
                while True:
                    line = lines.readline().decode(errors="replace").strip()
                    if line.startswith("200") and "Trying" not in line:
                        return line
                    if not line or line.startswith(("5", "HANGUP")):
                        return line

            for target in self.targets:
                command('SET VARIABLE BURGERNET_TRANSFER_TIMEOUT "2"')
                command(f'SET VARIABLE BURGERNET_TRANSFER_TARGET "{target}"')
                command("GOSUB burgernet-transfer s 1")
                reply = command("GET VARIABLE DIALSTATUS")
                self.statuses[target] = reply.partition("(")[2].rstrip(")")
            command("HANGUP")
        self.done.set()


def test_a_hostile_transfer_target_is_refused_by_the_dialplan(phones, ami_settings, event_log):
    wait_until_no_channels()
    hostile = [
        "Local/08000011@burgernet-internal,2,b(burgernet-fallback^s^1)",  # the reviewed attack
        "PJSIP/pbx-provider",  # an endpoint of the PBX, not on BURGERNET_TRANSFER_ENDPOINTS
        "+4420794600001",  # abroad
        "+319001234567",  # too long, and premium
    ]
    # The allow-listed endpoint is dialled (nobody listens on the centralist's port: no answer).
    probe = TransferProbe([*hostile, "PJSIP/burgernet-centralist"])
    backend = AsteriskBackend(
        ami_settings.model_copy(update={"fastagi_port": probe.port}), caller_id=CALLER_ID
    )
    backend.start(event_log)
    try:
        backend.originate(CallRequest(4343, "+31690004343", CALLER_ID, timeout_s=5))
        assert probe.done.wait(40), probe.statuses
    finally:
        backend.stop()
    for target in hostile:
        assert probe.statuses[target] == "CHANUNAVAIL", (target, probe.statuses)
    assert probe.statuses["PJSIP/burgernet-centralist"] not in ("", "CHANUNAVAIL"), probe.statuses
    wait_until_no_channels()


class SilentFastAgi:
    """A FastAGI server that accepts the call and never sends a command: without a limit on
    the PBX the call would stay up until the phone hangs up."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connected = threading.Event()
        self.closed_by_asterisk = threading.Event()  # HANGUP sent, or the socket closed
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        self.connected.set()
        with conn:
            conn.settimeout(60)
            received = b""
            try:
                while chunk := conn.recv(4096):
                    received += chunk
                    if b"HANGUP" in received:  # Asterisk tells the AGI its channel hung up
                        break
            except OSError:
                return
            self.closed_by_asterisk.set()


def test_a_call_over_its_absolute_timeout_is_hung_up_by_the_pbx(phones, ami_settings, event_log):
    wait_until_no_channels()
    agi = SilentFastAgi()
    settings = ami_settings.model_copy(update={"fastagi_port": agi.port})
    backend = AsteriskBackend(settings, caller_id=CALLER_ID)
    backend.start(event_log)
    try:
        # The phone farm's +3169000... answers and stays on the line for 30 s.
        backend.originate(
            CallRequest(4242, "+31690004242", CALLER_ID, timeout_s=5, variables={"max_call_s": "10"})
        )
        terminal = event_log.wait_terminal([4242], timeout_s=22)
    finally:
        backend.stop()
    assert agi.connected.is_set() and agi.closed_by_asterisk.wait(5)
    [end] = terminal[4242]
    assert end.type in (T.COMPLETED, T.FAILED), end
    assert T.ANSWERED in event_log.types(4242) or T.MACHINE in event_log.types(4242)
    # Every leg of the call is in the PBX's CDR under the delivery id (accountcode).
    cdr = CHROOT_LOGS / "cdr-csv" / "Master.csv"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (cdr.exists() and '"4242"' in cdr.read_text(errors="replace")):
        time.sleep(0.2)
    legs = [line for line in cdr.read_text(errors="replace").splitlines() if line.startswith('"4242"')]
    assert len(legs) >= 2, legs  # the answered side and the trunk leg
    wait_until_no_channels()


def test_a_fastagi_session_that_is_not_the_deliverys_call_is_refused(
    phones, settings, db, ami_settings, event_log
):
    """The delivery's stored call id is another call's: the real call that reaches the IVR
    (it presses 9 to opt out) is refused before any effect and gets the fallback."""
    wait_until_no_channels()
    wave = seed_alert_wave(db, ["+31691900777"])
    delivery_id = wave.deliveries["+31691900777"]
    with db.transaction() as s:
        s.get(Delivery, delivery_id).provider_id = f"bn-{delivery_id}-someothers"
    configured = settings.model_copy(
        update={"asterisk": settings.asterisk.model_copy(update={"fastagi_call_id_wait_s": 0.5})}
    )
    server = build_server(configured, db, SystemClock(), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = AsteriskBackend(
        ami_settings.model_copy(update={"fastagi_port": server.server_address[1]}), caller_id=CALLER_ID
    )
    backend.start(event_log)
    try:
        backend.originate(CallRequest(delivery_id, "+31691900777", CALLER_ID, timeout_s=5))
        terminal = event_log.wait_terminal([delivery_id], timeout_s=40)
    finally:
        backend.stop()
        server.shutdown()
        server.server_close()
    assert server.outcomes == {"refused": 1}, server.outcomes
    assert terminal[delivery_id][0].hangup_cause == "IVR_FALLBACK"
    with db.session() as s:
        participant = s.get(Participant, wave.participants["+31691900777"])
        assert participant.status != ParticipantStatus.OPTED_OUT
        events = s.scalars(select(DeliveryEvent.event).where(DeliveryEvent.delivery_id == delivery_id)).all()
        assert not [e for e in events if "opt" in e], events
    wait_until_no_channels()


def test_the_trunk_limit_counts_every_leg_and_refuses_beyond_it(phones, ami_settings, event_log):
    """With room for one call on the trunk, a second alert call is refused by the dialplan
    (congestion: the dialer tries it again later), never placed."""
    wait_until_no_channels()
    testbed.asterisk_cli("dialplan set global BURGERNET_TRUNK_MAX_CALLS 1")
    backend = AsteriskBackend(ami_settings, caller_id=CALLER_ID)
    backend.start(event_log)
    try:
        backend.originate(CallRequest(4401, "+31692004401", CALLER_ID, timeout_s=4))  # rings, no answer
        time.sleep(0.5)
        backend.originate(CallRequest(4402, "+31692004402", CALLER_ID, timeout_s=4))
        terminal = event_log.wait_terminal([4401, 4402], timeout_s=20)
    finally:
        backend.stop()
        testbed.asterisk_cli("dialplan set global BURGERNET_TRUNK_MAX_CALLS 5000")
    assert terminal[4401][0].type == T.NO_ANSWER, terminal[4401]
    refused = terminal[4402][0]
    assert (refused.type, refused.detail["q850"]) == (T.FAILED, 34), refused
    assert T.RINGING not in event_log.types(4402)
    wait_until_no_channels()


def test_the_ami_link_runs_over_tls_and_trusts_only_the_pbxs_certificate(phones, ami_settings, event_log):
    """A platform on another host reaches the AMI over TLS (manager.conf tlsenable, settings
    ami_tls): the calls and their events go through it; a client that does not trust the PBX's
    certificate is refused; the TLS port says nothing in the clear."""
    wait_until_no_channels()
    tls = ami_settings.model_copy(
        update={
            "ami_port": testbed.TestbedInstance(1).ami_tls_port,
            "ami_tls": True,
            "ami_tls_ca_file": str(testbed.AMI_TLS_CERT),
        }
    )
    with socket.create_connection(("127.0.0.1", tls.ami_port), timeout=5) as plain:
        plain.settimeout(2)
        try:
            greeting = plain.recv(200)
        except TimeoutError:
            greeting = b""
    assert b"Asterisk Call Manager" not in greeting, greeting

    untrusted = AmiLink(tls.model_copy(update={"ami_tls_ca_file": ""}), "untrusted", "off")
    with pytest.raises(AmiError, match="(?i)certificate"):
        untrusted.connect()

    agi = SilentFastAgi()
    backend = AsteriskBackend(tls.model_copy(update={"fastagi_port": agi.port}), caller_id=CALLER_ID)
    backend.start(event_log)
    try:
        backend.originate(
            CallRequest(4343, "+31690004343", CALLER_ID, timeout_s=5, variables={"max_call_s": "6"})
        )
        terminal = event_log.wait_terminal([4343], timeout_s=25)
    finally:
        backend.stop()
    assert agi.connected.is_set()
    assert T.ANSWERED in event_log.types(4343) or T.MACHINE in event_log.types(4343), event_log.types(4343)
    assert terminal[4343], terminal
    wait_until_no_channels()
