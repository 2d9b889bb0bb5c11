"""Prompts published where Asterisk reads them, remembered, and rendered again when gone."""

from __future__ import annotations

import os
from pathlib import Path

from ivr.asterisk_audio import AsteriskSounds, publish
from ivr.flow import Speech
from ivr.prompt_texts import prompt_text


def test_sound_names_are_published_remembered_and_restored(agi_settings):
    sounds = AsteriskSounds(agi_settings)
    speech = Speech("Wilt u uitkijken naar een rode auto.")
    name = sounds.sound_name(speech)
    sln = Path(name + ".sln")
    assert sln.parent == Path(agi_settings.asterisk.sounds_dir) / "burgernet-cache"
    assert sln.stat().st_size > 8000  # over half a second of 8 kHz 16-bit audio
    assert sounds.sound_name(speech) == name
    os.remove(sln)
    assert sounds.sound_name(speech) == name and sln.is_file()
    key = Speech(prompt_text("goodbye", agi_settings), "goodbye")
    assert sounds.sound_name(key) != name


def test_audio_already_under_the_sounds_dir_is_played_in_place(tmp_path):
    inside = tmp_path / "sounds" / "own" / "x.sln"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"\0" * 16)
    assert publish(inside, tmp_path / "sounds") == str(inside.with_suffix(""))
    outside = tmp_path / "cache" / "y.sln"
    outside.parent.mkdir()
    outside.write_bytes(b"\1" * 16)
    name = publish(outside, tmp_path / "sounds")
    assert Path(name + ".sln").read_bytes() == b"\1" * 16
