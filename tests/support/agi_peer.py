"""Asterisk's side of FastAGI, simulated: for the FastAGI benchmark (and a quick manual check).

An `AgiPeer` connects to the server like `AGI(agi://host:port/<script>)` would, sends the
agi_* headers, and answers each command as Asterisk 22 does: prompts "play" for a set time,
WAIT FOR DIGIT returns the next scripted key, RECORD FILE writes a WAV file where asked,
GOSUB answers "100 Trying" then "200 ... Gosub complete" with the scripted DIALSTATUS.
It measures how long the server takes between a reply and its next command (the time a
real caller would hear nothing because of the server).
"""

from __future__ import annotations

import shlex
import socket
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path


def write_silence_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))


@dataclass
class AgiPeer:
    host: str
    port: int
    script: str
    uniqueid: str
    variables: dict[str, str] = field(default_factory=dict)
    callerid: str = "unknown"
    dnid: str = "08000011"
    keys: list[str] = field(default_factory=list)  # one per WAIT FOR DIGIT; "" = timeout
    prompt_s: float = 0.2  # simulated playback time of each STREAM FILE
    record_s: float = 1.0
    dial_status: str = "ANSWER"
    commands: list[str] = field(default_factory=list)
    server_gaps_s: list[float] = field(default_factory=list)
    hung_up: bool = False

    def run(self, timeout: float = 60.0) -> list[str]:
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            reader = sock.makefile("r", encoding="utf-8", newline="\n")
            headers = {
                "agi_network": "yes",
                "agi_network_script": self.script,
                "agi_request": f"agi://{self.host}:{self.port}/{self.script}",
                "agi_channel": f"PJSIP/peer-{self.uniqueid}",
                "agi_uniqueid": self.uniqueid,
                "agi_callerid": self.callerid,
                "agi_dnid": self.dnid,
                "agi_extension": "s",
                "agi_context": "burgernet",
                "agi_priority": "1",
                "agi_version": "22.0.0",
            }
            sent_at = time.monotonic()
            sock.sendall("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
            while True:
                line = reader.readline()
                if not line:
                    return self.commands
                self.server_gaps_s.append(time.monotonic() - sent_at)
                command = line.strip()
                self.commands.append(command)
                reply = self.reply(command)
                sock.sendall(reply.encode())
                sent_at = time.monotonic()

    def reply(self, command: str) -> str:
        words = shlex.split(command)
        head = words[0].upper() if words else ""
        verb = " ".join(words[:2]).upper()
        if verb == "GET VARIABLE":
            value = self.variables.get(words[2])
            return f"200 result=1 ({value})\n" if value is not None else "200 result=0\n"
        if self.hung_up:
            return "511 Command Not Permitted on a dead channel or intercept routine\n"
        if verb == "STREAM FILE":
            time.sleep(self.prompt_s)
            return "200 result=0 endpos=8000\n"
        if verb == "WAIT FOR":
            key = self.keys.pop(0) if self.keys else ""
            return f"200 result={ord(key) if key else 0}\n"
        if verb == "RECORD FILE":
            time.sleep(self.record_s)
            write_silence_wav(Path(f"{words[2]}.{words[3]}"), self.record_s)
            return "200 result=0 (timeout) endpos=8000\n"
        if verb == "SET VARIABLE":
            self.variables[words[2]] = words[3]
            return "200 result=1\n"
        if head == "GOSUB":
            self.variables["DIALSTATUS"] = self.dial_status
            return "100 result=0 Trying...\n200 result=0 Gosub complete\n"
        if verb == "CHANNEL STATUS":
            return "200 result=6\n"
        if head == "HANGUP":
            self.hung_up = True
            return "200 result=1\n"
        if head == "EXEC" or verb in ("SET CONTEXT", "SET EXTENSION", "SET PRIORITY"):
            return "200 result=0\n"
        return "510 Invalid or unknown command\n"
