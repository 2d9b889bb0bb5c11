"""The alert flow's reference walks (alert_walks.py) through the FastAGI renderer: the same
inputs, played by a scripted Asterisk over TCP, must give the same steps as the engine alone,
prompt for prompt (each expected prompt's sound file is the one Asterisk is told to play)."""
from __future__ import annotations

import shlex

import pytest

from alert_walks import ALERT_WALKS
from fake_asterisk import FakeChannel
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import InputKind, Speech
from ivr.prompt_texts import prompt_text
from ivr_seed import VOICE_TEXT, seed_all


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


@pytest.mark.parametrize("name", sorted(ALERT_WALKS))
def test_fastagi_does_the_engine_walk(name, server, db, agi_settings):
    seeded = seed_all(db)
    answered_by, inputs, expected = ALERT_WALKS[name]
    call = FakeChannel(
        *server.server_address[:2], "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id),
                   "BURGERNET_AMD": "MACHINE" if answered_by.startswith("machine") else "HUMAN"},
        presses=[i.digits for i in inputs if i.kind in (InputKind.DIGITS, InputKind.TIMEOUT)],
        dial_statuses=[i.status for i in inputs if i.kind is InputKind.TRANSFER],
    )
    commands = call.run()
    want = ["GET VARIABLE", "GET VARIABLE"] + [c for s in expected for c in agi_commands(s)]
    assert [command_kind(c) for c in commands] == want
    sounds = AsteriskSounds(agi_settings)
    expected_sounds = [
        sounds.sound_name(Speech(VOICE_TEXT) if item == VOICE_TEXT else Speech(prompt_text(item, agi_settings), item))
        for s in expected if len(s) > 2 and isinstance(s[2], tuple) for item in s[2]
    ]
    assert call.played() == expected_sounds
