"""The Asterisk renderer: executes the engine's steps as AGI commands on one channel.

It decides nothing about the flow; it plays, collects a digit, records, dials, and reports
what happened as an `Input`.

    PlayStep            STREAM FILE <sound> ""                         -> done
    MenuStep            STREAM FILE <sound> "<digits>" (a key stops the prompt), then
                        WAIT FOR DIGIT <timeout ms>                    -> digits | timeout
    RecordStep          prompts, RECORD FILE <recordings_dir>/sighting-<id> wav "#" <ms> 0
                        BEEP s=<silence>                               -> recording
    TransferStep        prompts, SET VARIABLE BURGERNET_TRANSFER_TARGET <dial string>,
                        SET VARIABLE BURGERNET_TRANSFER_TIMEOUT <s>,
                        GOSUB burgernet-transfer s 1; GET VARIABLE DIALSTATUS
                                                                       -> transfer (ANSWER = answered)
    AwaitMessageEndStep EXEC WaitForSilence 1500,1,<max s>              -> done
    HangupStep          prompts, HANGUP

The transfer uses AGI's own GOSUB command, which runs the subroutine before it answers;
`EXEC Gosub` would only move the channel's dialplan position and return at once (checked
against Asterisk 22: DIALSTATUS stayed empty). A result of -1 from any command is checked
with CHANNEL STATUS: a dead channel is a hangup (a normal end), a live one an error (fallback).
A "511 Command Not Permitted on a dead channel" answer (the caller hung up between two
commands, say while a menu's prompt ended) is a hangup too.

A transfer target with a '/' is an Asterisk dial string already (PJSIP/centralist); a phone
number is dialled through `settings.asterisk.dial_template`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from asterisk.agi import AGI, AGIAppError, AGIHangup, AGISIGHUPHangup, AGIUnknownError

from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import (
    AwaitMessageEndStep,
    HangupStep,
    Input,
    MenuStep,
    PlayStep,
    RecordStep,
    Speech,
    Step,
    TransferStep,
)

TRANSFER_SUBROUTINE = ("burgernet-transfer", "s", "1")
MESSAGE_END_SILENCE_MS = 1500
DEAD_CHANNEL_CODE = 511  # Asterisk refuses a command on a channel that hung up


class CallerHungUp(Exception):
    """The channel hung up during a step; `last` is what the step still produced (a partial
    recording, a transfer's status) or None."""

    def __init__(self, last: Input | None = None):
        super().__init__("caller hung up")
        self.last = last


class ChannelAGI(AGI):
    """pyst2's AGI, fit for a FastAGI server thread: no SIGHUP handler (signal.signal raises
    outside the main thread), no debug chatter, and the "HANGUP" line FastAGI sends when the
    channel hangs up is understood instead of being read as a command result."""

    def __init__(self, rfile, wfile):  # not super().__init__: it would install the signal handler
        self.stdin = _HangupAwareReader(rfile, self._note_hangup)
        self.stdout = wfile
        self.stderr = _Discard()
        self._got_sighup = False
        self.env = {}
        self._get_agi_env()
        self.stdin.eof_is_hangup = True

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
            return line


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
                self._play(step.speech)
                return Input.done()
            if isinstance(step, MenuStep):
                return self._menu(step)
            if isinstance(step, RecordStep):
                return self._record(step)
            if isinstance(step, TransferStep):
                return self._transfer(step)
            if isinstance(step, AwaitMessageEndStep):
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
        try:
            self.agi.execute("RECORD FILE", *args)
        except AGIHangup:
            raise CallerHungUp(Input.recording(path, None)) from None
        return Input.recording(path, None)

    def _transfer(self, step: TransferStep) -> Input:
        self._play(step.speech)
        self.agi.set_variable("BURGERNET_TRANSFER_TARGET", self.dial_string(step.target))
        self.agi.set_variable("BURGERNET_TRANSFER_TIMEOUT", str(step.timeout_s))
        try:
            self.agi.execute("GOSUB", *TRANSFER_SUBROUTINE)
        except AGIHangup:
            # The caller's channel ends with the bridged conversation (or the caller hung up
            # while it rang). It still answers GET VARIABLE, so the result is recorded.
            raise CallerHungUp(self._transfer_result()) from None
        # A channel that cannot tell how the transfer went is treated as not put through.
        return self._transfer_result() or Input.transfer(False, "UNKNOWN")

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

    def dial_string(self, target: str) -> str:
        if "/" in target:
            return target
        return self.settings.asterisk.dial_template.format(number=target.lstrip("+"))
