"""Asterisk's side of the AGI protocol, played over a real TCP socket to the FastAGI server.

`FakeChannel.run()` connects like `AGI(agi://host:port/<script>)`: it sends the agi_* headers
and a blank line, then answers every command the way Asterisk 22 does ("200 result=..."),
driven by a script of key presses and a table of channel variables. It writes the file a
RECORD FILE asks for (as Asterisk would), and can hang up at a chosen command.
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audio_files import write_wav


def fake_call_id(delivery_id: int) -> str:
    """The call id a test stores for a delivery (Delivery.provider_id) and its channel carries
    (agi_uniqueid): the FastAGI server runs a delivery's call only when the two match."""
    return f"bn-{delivery_id}-fakechanne"


@dataclass
class FakeChannel:
    host: str
    port: int
    script: str
    variables: dict[str, str] = field(default_factory=dict)
    callerid: str = "0612345678"
    dnid: str = "08000011"
    # Empty: the call id stored for the delivery in BURGERNET_DELIVERY_ID (fake_call_id), as
    # the real dialer's Originate sets it; else an inbound call's Asterisk id.
    uniqueid: str = ""
    # Keys pressed, one per WAIT FOR DIGIT ("" = let it time out).
    presses: list[str] = field(default_factory=list)
    # Keys pressed while a prompt plays (STREAM FILE with escape digits), one per such prompt;
    # None = listen to the end.
    barge_in: list[str | None] = field(default_factory=list)
    dial_status: str = "ANSWER"
    dial_statuses: list[str] = field(default_factory=list)  # per transfer, before dial_status
    record_seconds: float = 2.0
    fail_at: str | None = None  # a command that fails with result=-1 on a live channel
    hangup_line: bool = True  # Asterisk's "HANGUP" notice before the result (AGISIGHUP=yes)
    prompt_seconds: float = 0.0  # how long each STREAM FILE takes, as a real prompt would
    hang_up_at: str | None = None  # first word(s) of the command at which the caller hangs up
    # The caller hangs up right after this command answered normally (a menu's WAIT FOR DIGIT
    # timing out as the caller hangs up): the next command gets the HANGUP notice and 511.
    hang_up_after: str | None = None
    commands: list[str] = field(default_factory=list)
    hung_up: bool = False
    _notice_due: bool = False
    # Called with each command before it is answered (to look at the database mid-call).
    on_command: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if not self.uniqueid:
            delivery_id = self.variables.get("BURGERNET_DELIVERY_ID", "")
            self.uniqueid = fake_call_id(int(delivery_id)) if delivery_id.isdigit() else "1764338400.42"

    def run(self, timeout: float = 20.0) -> list[str]:
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            reader = sock.makefile("r", encoding="utf-8", newline="\n")
            headers = {
                "agi_network": "yes",
                "agi_network_script": self.script,
                "agi_request": f"agi://{self.host}:{self.port}/{self.script}",
                "agi_channel": "PJSIP/trunk-00000001",
                "agi_language": "nl",
                "agi_type": "PJSIP",
                "agi_uniqueid": self.uniqueid,
                "agi_version": "22.0.0",
                "agi_callerid": self.callerid,
                "agi_calleridname": "unknown",
                "agi_dnid": self.dnid,
                "agi_context": "burgernet-callback",
                "agi_extension": "s",
                "agi_priority": "2",
                "agi_enhanced": "0.0",
                "agi_accountcode": "",
                "agi_threadid": "140000000000",
            }
            sock.sendall("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
            while True:
                line = reader.readline()
                if not line:
                    return self.commands
                command = line.strip()
                self.commands.append(command)
                if self.on_command:
                    self.on_command(command)
                reply = self.reply(command)
                if (
                    self.hang_up_after
                    and not self.hung_up
                    and command.upper().startswith(self.hang_up_after.upper())
                ):
                    self.hung_up = True
                    self._notice_due = self.hangup_line
                sock.sendall(reply.encode())

    def reply(self, command: str) -> str:
        words = shlex.split(command)
        verb = " ".join(words[:2]).upper()
        if self.hung_up:
            notice = "HANGUP\n" if self._notice_due else ""
            self._notice_due = False
            if verb == "GET VARIABLE":
                return notice + self._variable(words[2])
            return notice + "511 Command Not Permitted on a dead channel or intercept routine\n"
        if self.hang_up_at and command.upper().startswith(self.hang_up_at.upper()):
            self.hung_up = True
            prefix = "HANGUP\n" if self.hangup_line else ""
            if verb == "RECORD FILE":
                self._write_recording(words[2], words[3])
            if words[0].upper() == "GOSUB":
                self.variables["DIALSTATUS"] = self.dial_status
                if not self.hangup_line:  # Dial ended the channel; the notice comes later
                    return "100 result=0 Trying...\n200 result=-1 Gosub complete\n"
            return prefix + "200 result=-1 endpos=0\n"
        if self.fail_at and command.upper().startswith(self.fail_at.upper()):
            self.fail_at = None
            return "200 result=-1 endpos=0\n"  # e.g. a sound file Asterisk cannot find
        if verb == "STREAM FILE":
            time.sleep(self.prompt_seconds)
            escape = words[3] if len(words) > 3 else ""
            if escape and self.barge_in:
                key = self.barge_in.pop(0)
                if key:
                    return f"200 result={ord(key)} endpos=4000\n"
            return "200 result=0 endpos=16000\n"
        if verb == "WAIT FOR":  # WAIT FOR DIGIT
            key = self.presses.pop(0) if self.presses else ""
            return f"200 result={ord(key) if key else 0}\n"
        if verb == "RECORD FILE":
            self._write_recording(words[2], words[3])
            return "200 result=0 (timeout) endpos=16000\n"
        if verb == "GET VARIABLE":
            return self._variable(words[2])
        if verb == "SET VARIABLE":
            self.variables[words[2]] = words[3]
            return "200 result=1\n"
        if words[0].upper() == "GOSUB":  # runs the subroutine (Dial) before it answers
            self.variables["DIALSTATUS"] = (
                self.dial_statuses.pop(0) if self.dial_statuses else self.dial_status
            )
            return "100 result=0 Trying...\n200 result=0 Gosub complete\n"
        if words[0].upper() == "EXEC":
            return "200 result=0\n"
        if verb == "CHANNEL STATUS":
            return "200 result=6\n"
        if verb in ("SET CONTEXT", "SET EXTENSION", "SET PRIORITY"):
            return "200 result=0\n"
        if words[0].upper() == "HANGUP":
            self.hung_up = True
            return "200 result=1\n"
        return "510 Invalid or unknown command\n"

    def _variable(self, name: str) -> str:
        value = self.variables.get(name)
        return f"200 result=1 ({value})\n" if value is not None else "200 result=0\n"

    def _write_recording(self, name: str, fmt: str) -> None:
        write_wav(Path(f"{name}.{fmt}"), self.record_seconds)

    # what the server did -----------------------------------------------------------------

    def played(self) -> list[str]:
        return [shlex.split(c)[2] for c in self.commands if c.upper().startswith("STREAM FILE")]

    def sent(self, prefix: str) -> list[str]:
        return [c for c in self.commands if re.match(re.escape(prefix), c, re.IGNORECASE)]
