"""A participant phones the call-back line: the real call-back flow (ivr.callback_flow), walked
through the flow engine as a renderer would, with a real spoken recording (espeak-ng)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from config.clock import SystemClock
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import CallEnv, Engine, HangupStep, Input, MenuStep, PlayStep, RecordStep, TransferStep

ENGINE = Engine(CALLBACK_FLOW)


def spoken_wav(path: Path, text: str) -> Path:
    """A real recording: espeak-ng speaks the sighting into an 8 kHz-ish WAV."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is needed (scripts/setup)"
    subprocess.run([espeak, "-v", "nl", "-w", str(path), text], check=True, timeout=30)
    return path


def phone_in_sighting(
    db, settings, caller: str, dialed: str, recording: Path, menu_digit: str = "1"
) -> list[str]:
    """Walk the call-back flow to its end; returns the node ids the caller went through."""
    call_id = f"browser-test-{uuid.uuid4().hex[:8]}"
    nodes = []
    with db.session() as session:
        env = CallEnv(
            session=session,
            clock=SystemClock(),
            settings=settings,
            provider="simulator",
            provider_call_id=call_id,
            caller_number=caller,
            dialed_number=dialed,
        )
        turn = ENGINE.start(env)
        for _ in range(30):
            step = turn.step
            nodes.append(step.node)
            if isinstance(step, HangupStep):
                break
            if isinstance(step, RecordStep):
                happened = Input.recording(str(recording), None)
            elif isinstance(step, MenuStep):
                happened = Input.digit(menu_digit)
            elif isinstance(step, TransferStep):
                happened = Input.transfer(False, "NOANSWER")  # nobody picks up in the test
            elif isinstance(step, PlayStep):
                happened = Input.done()
            else:
                happened = Input.done()
            turn = ENGINE.resume(turn.state, happened, env)
        session.commit()
    return nodes
