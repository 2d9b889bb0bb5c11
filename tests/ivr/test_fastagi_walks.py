"""The alert flow's reference walks (alert_walks.py) and the call-back flow's walks through the
FastAGI renderer: the same inputs, played by a scripted Asterisk over TCP, must give the same
steps as the engine alone, prompt for prompt (each expected prompt's sound file is the one
Asterisk is told to play)."""

from __future__ import annotations

import shlex

import pytest
from alert_walks import ALERT_WALKS
from audio_files import write_wav
from fake_asterisk import FakeChannel
from ivr_seed import VOICE_TEXT, seed_all
from sqlalchemy import select

from db.models import Sighting
from ivr.asterisk_audio import AsteriskSounds
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import (
    CallEnv,
    Engine,
    HangupStep,
    Input,
    InputKind,
    MenuStep,
    RecordStep,
    Speech,
    TransferStep,
    walk,
)
from ivr.prompt_texts import prompt_text


def agi_commands(summary: tuple) -> list[str]:
    """The AGI commands a step becomes, by kind."""
    kind = summary[0]
    prompts = ["STREAM FILE"] * len(summary[2]) if len(summary) > 2 and isinstance(summary[2], tuple) else []
    if kind == "play":
        return prompts
    if kind == "menu":
        return prompts + ["WAIT FOR"]
    if kind == "transfer":
        return prompts + ["SET VARIABLE", "SET VARIABLE", "GOSUB", "GET VARIABLE"]
    if kind == "await_message_end":
        return ["EXEC WaitForSilence"]
    assert kind == "hangup"
    return prompts + ["HANGUP"]


def command_kind(command: str) -> str:
    words = shlex.split(command)
    if words[0].upper() == "EXEC":
        return f"EXEC {words[1]}"
    if words[0].upper() in ("HANGUP", "GOSUB"):
        return words[0].upper()
    return " ".join(words[:2]).upper()


def barge_ins(inputs: list[Input], expected: list[tuple]) -> list[str | None]:
    """One entry per prompt played with escape digits (menus, messages that take keys): the
    key that interrupts a message at its first prompt, else None (heard to the end)."""
    out: list[str | None] = []
    for happened, step in zip(inputs, expected, strict=False):
        if step[0] not in ("menu", "play") or len(step) < 4:
            continue
        key = happened.digits if step[0] == "play" and happened.kind is InputKind.DIGITS else None
        out += [key] + [None] * (len(step[2]) - 1)
        if key:
            out = out[: len(out) - (len(step[2]) - 1)]  # the prompts after the key never play
    return out


@pytest.mark.parametrize("name", sorted(ALERT_WALKS))
def test_fastagi_does_the_engine_walk(name, server, db, agi_settings):
    seeded = seed_all(db)
    answered_by, inputs, expected = ALERT_WALKS[name]
    call = FakeChannel(
        *server.server_address[:2],
        "alert",
        variables={
            "BURGERNET_DELIVERY_ID": str(seeded.delivery_id),
            "BURGERNET_AMD": "MACHINE" if answered_by.startswith("machine") else "HUMAN",
        },
        presses=[
            i.digits
            for i, step in zip(inputs, expected, strict=False)
            if i.kind in (InputKind.DIGITS, InputKind.TIMEOUT) and step[0] == "menu"
        ],
        barge_in=barge_ins(inputs, expected),
        dial_statuses=[i.status for i in inputs if i.kind is InputKind.TRANSFER],
    )
    commands = call.run()
    interrupted = [
        i.kind is InputKind.DIGITS and s[0] == "play" for i, s in zip(inputs, expected, strict=False)
    ]
    want = ["GET VARIABLE", "GET VARIABLE"] + [
        c
        for n, s in enumerate(expected)
        for c in (agi_commands(s)[:1] if n < len(interrupted) and interrupted[n] else agi_commands(s))
    ]
    assert [command_kind(c) for c in commands] == want
    sounds = AsteriskSounds(agi_settings)
    expected_sounds = [
        sounds.sound_name(
            Speech(VOICE_TEXT) if item == VOICE_TEXT else Speech(prompt_text(item, agi_settings), item)
        )
        for n, s in enumerate(expected)
        if len(s) > 2 and isinstance(s[2], tuple)
        for item in (s[2][:1] if n < len(interrupted) and interrupted[n] else s[2])
    ]
    assert call.played() == expected_sounds


# --- the call-back flow -------------------------------------------------------------------

# name -> inputs ("record" = the caller speaks into the recording)
CALLBACK_WALKS = {
    "press_1_and_record": [Input.done(), Input.done(), Input.digit("1"), "record"],
    "wait_and_be_put_through": [Input.done(), Input.done(), Input.timeout(), Input.transfer(True, "ANSWER")],
    "centralist_unreachable_then_record": [
        Input.done(),
        Input.done(),
        Input.timeout(),
        Input.transfer(False, "NOANSWER"),
        "record",
    ],
}


def step_commands(step) -> list[str]:
    prompts = ["STREAM FILE"] * len(getattr(step, "speech", ()))
    if isinstance(step, MenuStep):
        return prompts + ["WAIT FOR"]
    if isinstance(step, RecordStep):
        return prompts + ["RECORD FILE"]
    if isinstance(step, TransferStep):
        return prompts + ["SET VARIABLE", "SET VARIABLE", "GOSUB", "GET VARIABLE"]
    if isinstance(step, HangupStep):
        return prompts + ["HANGUP"]
    return prompts


@pytest.mark.parametrize("name", sorted(CALLBACK_WALKS))
def test_fastagi_does_the_engine_walk_of_the_call_back_flow(name, server, db, agi_settings, clock, tmp_path):
    seed_all(db)
    script = CALLBACK_WALKS[name]
    inputs = [
        Input.recording(str(write_wav(tmp_path / f"{n}.wav")), None) if item == "record" else item
        for n, item in enumerate(script)
    ]
    with db.session() as session:
        env = CallEnv(
            session=session,
            clock=clock,
            settings=agi_settings,
            provider="engine",
            caller_number="0612345678",
            dialed_number="08000011",
        )
        steps = [t.step for t in walk(Engine(CALLBACK_FLOW), env, {}, inputs)]

    call = FakeChannel(
        *server.server_address[:2],
        "callback",
        presses=[i.digits for i in inputs if i.kind in (InputKind.DIGITS, InputKind.TIMEOUT)],
        dial_statuses=[i.status for i in inputs if i.kind is InputKind.TRANSFER],
    )
    commands = call.run()
    assert [command_kind(c) for c in commands] == [c for s in steps for c in step_commands(s)]
    sounds = AsteriskSounds(agi_settings)
    assert call.played() == [sounds.sound_name(sp) for s in steps for sp in getattr(s, "speech", ())]
    with db.session() as s:
        by_provider = {x.provider: x for x in s.scalars(select(Sighting))}
    assert set(by_provider) == {"engine", "asterisk"}
    engine_row, agi_row = by_provider["engine"], by_provider["asterisk"]
    assert (agi_row.action_id, agi_row.transferred, agi_row.transfer_result) == (
        engine_row.action_id,
        engine_row.transferred,
        engine_row.transfer_result,
    )
    assert bool(agi_row.recording_path) == bool(engine_row.recording_path) == ("record" in script)
