"""The Asterisk renderer: executes the engine's steps as AGI commands on one channel.

It decides nothing about the flow; it plays, collects a digit, records, dials, and reports
what happened as an `Input`.

    PlayStep            STREAM FILE <sound> "<keys>" (a key stops the prompt and acts
                        at once; no keys: "")                          -> done | digits
    MenuStep            STREAM FILE <sound> "<digits>" (a key stops the prompt), then
                        WAIT FOR DIGIT <timeout ms>                    -> digits | timeout
    RecordStep          prompts, RECORD FILE <recordings_dir>/sighting-<id> wav "#" <ms> 0
                        BEEP s=<silence>                               -> recording (the file;
                        the seconds it must hold at least: endpos=, or the time RECORD FILE
                        ran less the beep and the silence Asterisk cuts off; an error when
                        it answered -1 on a live channel: the file could not be written)
    TransferStep        prompts, SET VARIABLE BURGERNET_TRANSFER_TARGET <dial string>,
                        SET VARIABLE BURGERNET_TRANSFER_TIMEOUT <s>,
                        GOSUB burgernet-transfer s 1; GET VARIABLE DIALSTATUS
                                                                       -> transfer (ANSWER = answered)
    QueueStep           prompts (a "1" stops them: left), the hold announcement published as
                        <sounds_dir>/burgernet-queue-hold (queues.conf periodic-announce),
                        SET VARIABLE BURGERNET_QUEUE <name>, BURGERNET_QUEUE_TIMEOUT <s>,
                        GOSUB burgernet-queue s 1; GET VARIABLE MEMBERINTERFACE, QEHOLDTIME,
                        BURGERNET_QUEUE_KEY, QUEUESTATUS   -> queue (answered: a member's
                        interface; left: key 1; timeout; unavailable; a hangup while waiting
                        is reported with the seconds waited, also when GOSUB answered
                        normally for a caller who abandoned the queue: ABANDONED=TRUE)
    AwaitMessageEndStep EXEC WaitForSilence 1500,1,<max s>              -> done
    HangupStep          prompts, HANGUP

The transfer uses AGI's own GOSUB command, which runs the subroutine before it answers;
`EXEC Gosub` would only move the channel's dialplan position and return at once (checked
against Asterisk 22: DIALSTATUS stayed empty). A result of -1 from any command is checked
with CHANNEL STATUS: a dead channel is a hangup (a normal end), a live one an error (fallback).
A "511 Command Not Permitted on a dead channel" answer (the caller hung up between two
commands, say while a menu's prompt ended) is a hangup too.

A transfer target is checked (callback_line.transfer_targets) before the dialplan sees it: an
allow-listed endpoint (`PJSIP/burgernet-centralist`) or a Dutch E.164 number goes into
BURGERNET_TRANSFER_TARGET, and [burgernet-transfer] checks it again (FILTER, the endpoint
allow-list) and sends a number out through [burgernet-out]. Anything else (a SIP URI, which only
Twilio dials, or free text) is not dialled: the transfer fails with status REFUSED.

The channel reads its socket through `SocketLines`: every answer has a deadline (the headers
`header_timeout_s`, each command `command_timeout_s`, plus the step's own length for RECORD
FILE, WAIT FOR DIGIT and WaitForSilence, and `transfer_timeout_s` for the GOSUB of a transfer,
which answers only when the conversation ends) and every line a maximum length; a peer that
breaks either is `PeerMisbehaves`, and the server closes its socket.
"""

from __future__ import annotations

import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from asterisk.agi import AGI, AGIAppError, AGIException, AGIHangup, AGISIGHUPHangup, AGIUnknownError

from callback_line.transfer_targets import InvalidTransferTarget, check_usable, parse_transfer_target
from config.logging import log_event
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import (
    AwaitMessageEndStep,
    HangupStep,
    Input,
    MenuStep,
    PlayStep,
    QueueOutcome,
    QueueStep,
    RecordStep,
    Speech,
    Step,
    TransferStep,
)

TRANSFER_SUBROUTINE = ("burgernet-transfer", "s", "1")
MESSAGE_END_SILENCE_MS = 1500
DEAD_CHANNEL_CODE = 511  # Asterisk refuses a command on a channel that hung up
RECORD_RATE_HZ = 8000  # RECORD FILE ... wav: 8 kHz signed linear; endpos counts samples
RECORD_BEEP_S = 1.0  # at most this long goes to the beep before RECORD FILE writes audio
QUEUE_SUBROUTINE = ("burgernet-queue", "s", "1")
QUEUE_HOLD_SOUND = "burgernet-queue-hold"  # queues.conf periodic-announce names this file

logger = logging.getLogger(__name__)


class CallerHungUp(Exception):
    """The channel hung up during a step; `last` is what the step still produced (a partial
    recording, a transfer's status) or None."""

    def __init__(self, last: Input | None = None):
        super().__init__("caller hung up")
        self.last = last


class PeerMisbehaves(AGIException):
    """The peer broke the protocol's limits: too slow, a line too long, too many headers."""


class PeerTooSlow(PeerMisbehaves):
    pass


class LineTooLong(PeerMisbehaves):
    pass


@dataclass(frozen=True)
class ChannelLimits:
    """How long and how much the server waits for and reads from one FastAGI peer."""

    header_timeout_s: float = 10.0
    command_timeout_s: float = 300.0
    transfer_timeout_s: float = 4 * 3600.0
    max_line_bytes: int = 8192
    max_header_lines: int = 200

    @classmethod
    def from_settings(cls, asterisk) -> ChannelLimits:
        return cls(
            header_timeout_s=asterisk.fastagi_header_timeout_s,
            command_timeout_s=asterisk.fastagi_command_timeout_s,
            transfer_timeout_s=asterisk.fastagi_transfer_timeout_s,
            max_line_bytes=asterisk.fastagi_max_line_bytes,
            max_header_lines=asterisk.fastagi_max_header_lines,
        )


class SocketLines:
    """Text lines from a socket, each due before a deadline and at most `max_bytes` long.

    Reads in small chunks into one buffer, so a peer that sends an endless line costs at most
    `max_bytes` plus a chunk, and one that trickles a byte at a time still meets the deadline
    (a socket timeout alone restarts with every byte).
    """

    CHUNK = 4096

    def __init__(self, sock: socket.socket, max_bytes: int, now: Callable[[], float] = time.monotonic):
        self.sock = sock
        self.max_bytes = max_bytes
        self.now = now
        self.buffer = bytearray()
        self.deadline = now() + 3600.0

    def expect_within(self, seconds: float) -> None:
        """The next lines are due within `seconds` (also the limit for sending meanwhile)."""
        self.deadline = self.now() + seconds
        self.sock.settimeout(seconds)

    def readline(self) -> str:
        while True:
            end = self.buffer.find(b"\n")
            if 0 <= end <= self.max_bytes:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line.decode("utf-8", errors="replace")
            if end > self.max_bytes or len(self.buffer) > self.max_bytes:
                raise LineTooLong(f"a line longer than {self.max_bytes} bytes")
            remaining = self.deadline - self.now()
            if remaining <= 0:
                raise PeerTooSlow("no complete line before the deadline")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(self.CHUNK)
            except TimeoutError:
                raise PeerTooSlow("no complete line before the deadline") from None
            if not chunk:  # end of stream: what is left, then ""
                rest = bytes(self.buffer)
                self.buffer.clear()
                return rest.decode("utf-8", errors="replace")
            self.buffer += chunk


class ChannelAGI(AGI):
    """pyst2's AGI, fit for a FastAGI server thread: no SIGHUP handler (signal.signal raises
    outside the main thread), no debug chatter, and the "HANGUP" line FastAGI sends when the
    channel hangs up is understood instead of being read as a command result. Reads are
    bounded in time and size (`ChannelLimits`)."""

    def __init__(self, lines: SocketLines, wfile: TextIO, limits: ChannelLimits | None = None):
        # not super().__init__: it would install the signal handler
        self.limits = limits or ChannelLimits()
        self.lines = lines
        self.stdin = _HangupAwareReader(lines, self._note_hangup)
        self.stdout = wfile
        self.stderr = _Discard()
        self._got_sighup = False
        self._extra_s = 0.0
        self.env: dict[str, str] = {}
        lines.expect_within(self.limits.header_timeout_s)
        self._get_agi_env()
        self.stdin.eof_is_hangup = True

    def _get_agi_env(self) -> None:
        """The agi_* headers up to the blank line; at most `max_header_lines` of them."""
        for _ in range(self.limits.max_header_lines):
            line = self.stdin.readline().strip()
            if line == "":
                return
            key, _, data = line.partition(":")
            if key.strip():
                self.env[key.strip()] = data.strip()
        raise LineTooLong(f"more than {self.limits.max_header_lines} header lines")

    def send_command(self, command, *args):
        self.lines.expect_within(self.limits.command_timeout_s + self._extra_s)
        super().send_command(command, *args)

    @contextmanager
    def allowing(self, seconds: float) -> Iterator[None]:
        """Commands sent inside may take `seconds` longer than `command_timeout_s`."""
        self._extra_s = float(seconds)
        try:
            yield
        finally:
            self._extra_s = 0.0

    def _note_hangup(self) -> None:
        self._got_sighup = True

    def get_result(self, stdin=None):
        try:
            return super().get_result()
        except AGIUnknownError as exc:
            # "511 Command Not Permitted on a dead channel": the caller hung up between two
            # commands (a menu's prompt or digit wait had just ended). A normal end.
            if self._got_sighup or (exc.args and exc.args[0] == DEAD_CHANNEL_CODE):
                raise AGISIGHUPHangup("channel hung up") from None
            raise
        except AGIAppError:
            # result=-1 means "error or hangup"; Asterisk's HANGUP notice may come only after
            # the result, so ask the channel.
            if self._got_sighup or not self._channel_alive():
                raise AGISIGHUPHangup("channel hung up") from None
            raise

    def _channel_alive(self) -> bool:
        """CHANNEL STATUS is refused (511) on a dead channel; a HANGUP notice may arrive first."""
        try:
            self.send_command("CHANNEL STATUS")
            line = self.stdin.readline()
        except (AGIHangup, OSError):
            return False
        return not self._got_sighup and line.startswith("200") and "result=-1" not in line

    @property
    def hung_up(self) -> bool:
        return self._got_sighup


class _HangupAwareReader:
    """Reads Asterisk's lines; a "HANGUP" line (sent when the channel hangs up, between
    results) is noted and skipped, as is the interim "100 Trying" of GOSUB; the end of the
    stream after the headers is a hangup."""

    def __init__(self, rfile, on_hangup):
        self.rfile = rfile
        self.on_hangup = on_hangup
        self.eof_is_hangup = False
        self.last_line = ""  # the last result line (RECORD FILE's endpos after a hangup)

    def readline(self) -> str:
        while True:
            line = self.rfile.readline()
            if not line:
                if self.eof_is_hangup:
                    self.on_hangup()
                    raise AGISIGHUPHangup("Asterisk closed the connection")
                return line
            if line.strip() == "HANGUP":
                self.on_hangup()
                continue
            if self.eof_is_hangup and line.startswith("100 "):
                continue  # "100 result=0 Trying...": GOSUB is running; its result follows
            self.last_line = line
            return line


def _recorded_s_from(result: dict) -> float | None:
    """Seconds recorded by Asterisk's own count: RECORD FILE's endpos in samples (wav: 8 kHz)."""
    raw = result.get("endpos", ("", ""))[0]
    return round(int(raw) / RECORD_RATE_HZ, 2) if raw.isdigit() else None


def _recorded_s(line: str) -> float | None:
    match = re.search(r"endpos=(\d+)", line or "")
    return round(int(match.group(1)) / RECORD_RATE_HZ, 2) if match else None


def _at_least(endpos_s: float | None, started: float, step: RecordStep) -> float | None:
    """How long the recording must be, at least. Asterisk's end position, or the time RECORD
    FILE ran less the beep and the silence it cuts off, whichever is longer: when the disk
    fills, Asterisk keeps recording (and reports an end position) without writing a byte."""
    floor = time.monotonic() - started - RECORD_BEEP_S - step.silence_s
    if floor <= 0:
        return endpos_s
    return round(max(endpos_s or 0.0, floor), 2)


class _Discard:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class AgiRenderer:
    def __init__(self, agi: ChannelAGI, sounds: AsteriskSounds, settings):
        self.agi = agi
        self.sounds = sounds
        self.settings = settings

    # one step ---------------------------------------------------------------------------

    def execute(self, step: Step) -> Input:
        try:
            if isinstance(step, PlayStep):
                digit = self._play(step.speech, "".join(sorted(step.digits)))
                return Input.digit(digit) if digit else Input.done()
            if isinstance(step, MenuStep):
                return self._menu(step)
            if isinstance(step, RecordStep):
                return self._record(step)
            if isinstance(step, TransferStep):
                return self._transfer(step)
            if isinstance(step, QueueStep):
                return self._queue(step)
            if isinstance(step, AwaitMessageEndStep):
                with self.agi.allowing(step.max_s):
                    self.agi.execute("EXEC", "WaitForSilence", f"{MESSAGE_END_SILENCE_MS},1,{step.max_s}")
                return Input.done()
            if isinstance(step, HangupStep):
                self._play(step.speech)
                self.agi.hangup()
                return Input.done()
        except AGIHangup:
            raise CallerHungUp() from None
        raise TypeError(f"no AGI rendering for {type(step).__name__}")

    # the pieces -------------------------------------------------------------------------

    def _play(self, speech: tuple[Speech, ...], escape: str = "") -> str:
        for item in speech:
            digit = self.agi.stream_file(self.sounds.sound_name(item), escape)
            if digit:
                return digit
        return ""

    def _menu(self, step: MenuStep) -> Input:
        digit = self._play(step.speech, "".join(sorted(step.digits)))
        if not digit:
            with self.agi.allowing(step.timeout_s):
                digit = self.agi.wait_for_digit(int(step.timeout_s * 1000))
        return Input.digit(digit) if digit else Input.timeout()

    def _record(self, step: RecordStep) -> Input:
        self._play(step.speech)
        name = Path(self.settings.asterisk.recordings_dir) / f"sighting-{uuid.uuid4().hex}"
        path = str(name) + ".wav"
        args = [f'"{name}"', "wav", '"#"', step.max_s * 1000, 0]
        if step.beep:
            args.append("BEEP")
        if step.silence_s:
            args.append(f"s={step.silence_s}")
        started = time.monotonic()
        try:
            with self.agi.allowing(step.max_s):
                result = self.agi.execute("RECORD FILE", *args)
        except AGIHangup:
            endpos_s = _recorded_s(getattr(self.agi.stdin, "last_line", ""))
            raise CallerHungUp(Input.recording(path, _at_least(endpos_s, started, step))) from None
        except AGIAppError:
            # result=-1 on a live channel: Asterisk could not open or write the file (a full
            # or read-only directory). Reported, so the flow can tell the caller.
            return Input.recording(path, None, error="RECORD FILE failed (result -1: writefile)")
        return Input.recording(path, _at_least(_recorded_s_from(result), started, step))

    def _transfer(self, step: TransferStep) -> Input:
        try:
            target = parse_transfer_target(step.target, endpoints=self.settings.asterisk.transfer_endpoints)
            check_usable(target, "asterisk")
        except InvalidTransferTarget as exc:
            log_event(logger, "fastagi.transfer_target_refused", level=logging.WARNING, error=str(exc))
            return Input.transfer(False, "REFUSED")
        self._play(step.speech)
        self.agi.set_variable("BURGERNET_TRANSFER_TARGET", target.value)
        self.agi.set_variable("BURGERNET_TRANSFER_TIMEOUT", str(step.timeout_s))
        try:
            # GOSUB answers when the subroutine returns: after the whole conversation.
            with self.agi.allowing(self.agi.limits.transfer_timeout_s):
                self.agi.execute("GOSUB", *TRANSFER_SUBROUTINE)
        except AGIHangup:
            # The caller's channel ends with the bridged conversation (or the caller hung up
            # while it rang). It still answers GET VARIABLE, so the result is recorded.
            raise CallerHungUp(self._transfer_result()) from None
        # A channel that cannot tell how the transfer went is treated as not put through.
        return self._transfer_result() or Input.transfer(False, "UNKNOWN")

    def _queue(self, step: QueueStep) -> Input:
        if self._play(step.speech, step.leave_digit) == step.leave_digit:
            return Input.queued(QueueOutcome.LEFT, 0.0)
        if step.hold_speech:
            self.sounds.fixed_name(step.hold_speech, QUEUE_HOLD_SOUND)
        self.agi.set_variable("BURGERNET_QUEUE", step.queue)
        self.agi.set_variable("BURGERNET_QUEUE_TIMEOUT", str(step.max_wait_s))
        joined = time.monotonic()
        try:
            # GOSUB answers when the caller leaves the queue, or after the conversation.
            with self.agi.allowing(self.agi.limits.transfer_timeout_s):
                self.agi.execute("GOSUB", *QUEUE_SUBROUTINE)
        except AGIHangup:
            raise CallerHungUp(self._queue_result(joined, hung_up=True)) from None
        result = self._queue_result(joined, hung_up=False)
        if result.queue_outcome is QueueOutcome.HANGUP:
            raise CallerHungUp(result)  # the flow does not go on for a caller who is gone
        return result

    def _queue_result(self, joined: float, *, hung_up: bool) -> Input:
        member = self._variable("MEMBERINTERFACE")
        held = self._variable("QEHOLDTIME")
        key = self._variable("BURGERNET_QUEUE_KEY")
        status = self._variable("QUEUESTATUS").upper()
        waited = round(time.monotonic() - joined, 1)
        if member:
            wait_s = float(held) if held.isdigit() else waited
            return Input.queued(QueueOutcome.ANSWERED, wait_s, agent=member, status=status or "ANSWERED")
        if key:
            return Input.queued(QueueOutcome.LEFT, waited, status="KEY")
        if status == "TIMEOUT":
            return Input.queued(QueueOutcome.TIMEOUT, waited, status=status)
        # A caller who hangs up while waiting ends Queue() (ABANDONED=TRUE, no QUEUESTATUS);
        # the GOSUB may still answer normally before Asterisk's HANGUP notice.
        if not hung_up and (self._variable("ABANDONED") == "TRUE" or not status):
            hung_up = self.agi.hung_up or not self.agi._channel_alive()
        if hung_up:
            return Input.queued(QueueOutcome.HANGUP, waited, status=status or "HANGUP")
        return Input.queued(QueueOutcome.UNAVAILABLE, waited, status=status or "UNKNOWN")

    def _variable(self, name: str) -> str:
        """A channel variable, also on a channel that hung up (Asterisk still answers GET
        VARIABLE there; pyst2's execute() would refuse)."""
        try:
            self.agi.send_command("GET VARIABLE", name)
            _code, value = self.agi.get_result()["result"]
        except (AGIHangup, AGIAppError, OSError, KeyError, ValueError):
            return ""
        return (value or "").strip()

    def _transfer_result(self) -> Input | None:
        # Sent directly: pyst2's execute() refuses every command once the channel hung up,
        # but Asterisk still answers GET VARIABLE on a dead channel.
        try:
            self.agi.send_command("GET VARIABLE", "DIALSTATUS")
            _code, status = self.agi.get_result()["result"]
        except (AGIHangup, AGIAppError, OSError):
            return None
        status = (status or "").strip().upper()
        return Input.transfer(status == "ANSWER", status or "UNKNOWN")
