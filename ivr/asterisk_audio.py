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
import threading
from pathlib import Path

from ivr.flow import Speech
from ivr.prompt_texts import is_package_prompt
from prompts.audio import RenderedPrompt, render
from prompts.ivr_prompts import ivr_prompt_audio

CACHE_FOLDER = "burgernet-cache"


class AsteriskSounds:
    """Speech -> the file name (without extension) for AGI STREAM FILE.

    Names are remembered (up to `MEMORY` of them): a wave plays the same few prompts to
    hundreds of calls, and normalising and hashing a text for the cache on every play costs
    more than everything else a turn does. A remembered file that disappeared (cache cleared)
    is rendered again. An administrator's replacement recording is picked up on restart."""

    MEMORY = 1024

    def __init__(self, settings):
        self.settings = settings
        self.sounds_dir = Path(settings.asterisk.sounds_dir)
        self._names: dict[tuple[str | None, str], str] = {}
        self._lock = threading.Lock()

    def rendered(self, speech: Speech) -> RenderedPrompt:
        if speech.key and is_package_prompt(speech.key):
            return ivr_prompt_audio(speech.key, self.settings)
        return render(speech.text, self.settings)

    def sound_name(self, speech: Speech) -> str:
        memo = (speech.key, speech.text)
        with self._lock:
            name = self._names.get(memo)
        if name is not None and os.path.exists(name + ".sln"):
            return name
        name = publish(self.rendered(speech).sln, self.sounds_dir)
        with self._lock:
            if len(self._names) >= self.MEMORY:
                self._names.clear()
            self._names[memo] = name
        return name

    def fixed_name(self, speech: tuple[Speech, ...], name: str) -> str:
        """Publish `speech` (joined) under the fixed `<sounds_dir>/<name>.sln`, for a dialplan
        or queues.conf that names the file itself (the call queue's hold announcement).
        Rewritten only when the audio changed."""
        parts = [self.rendered(item).sln.read_bytes() for item in speech]
        audio = b"".join(parts)
        target = self.sounds_dir / f"{name}.sln"
        with self._lock:
            if not target.exists() or target.read_bytes() != audio:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".publish-", suffix=".sln")
                with os.fdopen(fd, "wb") as out:
                    out.write(audio)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
        return str(target.with_suffix(""))


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
