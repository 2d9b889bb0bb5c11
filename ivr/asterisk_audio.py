"""Resolved prompts (`Speech`) as sound names Asterisk can play.

The prompts package renders audio into the platform's cache (`settings.audio_cache_dir`).
Asterisk reads sounds from `settings.asterisk.sounds_dir`, a directory it shares with the
platform (same machine, a bind mount into the testbed chroot, or a network share): a path there
names the same file for both. A rendered prompt outside that directory is published into
`<sounds_dir>/burgernet-cache/` once (atomically), and played from there.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ivr.flow import Speech
from ivr.prompt_texts import is_package_prompt
from prompts.audio import RenderedPrompt, render
from prompts.ivr_prompts import ivr_prompt_audio

CACHE_FOLDER = "burgernet-cache"


class AsteriskSounds:
    """Speech -> the file name (without extension) for AGI STREAM FILE."""

    def __init__(self, settings):
        self.settings = settings
        self.sounds_dir = Path(settings.asterisk.sounds_dir)

    def rendered(self, speech: Speech) -> RenderedPrompt:
        if speech.key and is_package_prompt(speech.key):
            return ivr_prompt_audio(speech.key, self.settings)
        return render(speech.text, self.settings)

    def sound_name(self, speech: Speech) -> str:
        return publish(self.rendered(speech).sln, self.sounds_dir)


def publish(audio: Path, sounds_dir: Path) -> str:
    """Make `audio` readable by Asterisk under `sounds_dir`; return its name without extension."""
    audio = audio.resolve()
    root = sounds_dir.resolve()
    if audio.is_relative_to(root):
        return str(audio.with_suffix(""))
    target = root / CACHE_FOLDER / audio.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".publish-", suffix=audio.suffix)
        os.close(fd)
        try:
            shutil.copyfile(audio, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return str(target.with_suffix(""))
