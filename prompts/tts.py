"""Text-to-speech engines behind one interface.

- `EspeakEngine`: espeak-ng with the Dutch voice, the embedded default; an mbrola Dutch voice
  (mb-nl2) is used instead when the mbrola program and its nl2 database are installed.
- `PiperEngine`: Piper (neural TTS) when a Dutch voice model is configured.
- For calls that run on Twilio, `twilio_say_attributes` gives the `<Say>` language and voice
  so the same spoken text can be read there without rendering audio.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Protocol

from prompts.errors import TtsError

MBROLA_DIRS = (Path("/usr/share/mbrola"), Path("/usr/lib/mbrola"))
_TIMEOUT_S = 60


class TtsEngine(Protocol):
    name: str
    voice: str

    @property
    def parameters(self) -> dict:
        """Everything besides the text that changes the sound (part of the cache key)."""

    def synthesize(self, text: str, out_wav: Path) -> None:
        """Write `text` spoken as a mono 16-bit WAV file at the engine's own sample rate."""


def _unavailable(program: str, hint: str) -> TtsError:
    return TtsError(
        f"text-to-speech program {program!r} not found; {hint}",
        "De spraakcomputer is niet beschikbaar. Waarschuw de beheerder.",
    )


def _run(command: list[str], text: str, what: str) -> None:
    try:
        result = subprocess.run(
            command, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise _unavailable(command[0], "install it (scripts/setup)") from None
    except subprocess.TimeoutExpired:
        raise TtsError(
            f"{what} took longer than {_TIMEOUT_S} s", "De spraakcomputer reageert niet. Probeer het opnieuw."
        ) from None
    if result.returncode != 0:
        raise TtsError(
            f"{what} failed with exit status {result.returncode}: "
            + result.stderr.decode("utf-8", "replace").strip()[:300],
            "De spraakcomputer kon de tekst niet uitspreken.",
        )


def mbrola_voice_installed(mbrola_voice: str) -> bool:
    """True when espeak-ng can use the mbrola voice, e.g. "mb-nl2" needs the nl2 database."""
    if not mbrola_voice.startswith("mb-") or shutil.which("mbrola") is None:
        return False
    database = mbrola_voice[3:]
    return any((d / database / database).exists() or (d / database).is_file() for d in MBROLA_DIRS)


class EspeakEngine:
    name = "espeak-ng"

    def __init__(self, voice: str = "nl", speed: int = 150, binary: str = "espeak-ng") -> None:
        self.voice = voice
        self.speed = speed
        self.binary = binary

    @property
    def parameters(self) -> dict:
        return {"speed": self.speed}

    def synthesize(self, text: str, out_wav: Path) -> None:
        if shutil.which(self.binary) is None:
            raise _unavailable(self.binary, "install the Debian package espeak-ng")
        _run(
            [self.binary, "-v", self.voice, "-s", str(self.speed), "-w", str(out_wav), "--stdin"],
            text,
            "espeak-ng",
        )
        if not out_wav.exists() or out_wav.stat().st_size <= 44:
            raise TtsError("espeak-ng produced no audio", "De spraakcomputer gaf geen geluid.")


class PiperEngine:
    name = "piper"

    def __init__(self, model: Path, binary: str = "piper") -> None:
        self.model = Path(model)
        self.binary = binary
        self.voice = self.model.stem

    @property
    def parameters(self) -> dict:
        model_stat = self.model.stat() if self.model.exists() else None
        return {"model": str(self.model), "model_size": model_stat.st_size if model_stat else None}

    def synthesize(self, text: str, out_wav: Path) -> None:
        if not self.model.exists():
            raise TtsError(
                f"Piper voice model {self.model} does not exist",
                "Het stemmodel voor de spraakcomputer ontbreekt. Waarschuw de beheerder.",
            )
        if shutil.which(self.binary) is None:
            raise _unavailable(self.binary, "install Piper or set BURGERNET_TTS__ENGINE=espeak")
        _run([self.binary, "--model", str(self.model), "--output_file", str(out_wav)], text, "piper")
        if not out_wav.exists() or out_wav.stat().st_size <= 44:
            raise TtsError("piper produced no audio", "De spraakcomputer gaf geen geluid.")


def engine_from_settings(settings) -> TtsEngine:
    """Piper when a Dutch voice model is configured (or the engine is set to piper);
    otherwise espeak-ng, with the mbrola Dutch voice when it is installed."""
    tts = settings.tts
    if tts.engine == "piper" or tts.piper_model:
        if not tts.piper_model:
            raise TtsError(
                "tts.engine is piper but tts.piper_model is not set",
                "Er is geen stemmodel ingesteld voor de spraakcomputer.",
            )
        return PiperEngine(tts.piper_model, tts.piper_binary)
    voice = tts.mbrola_voice if mbrola_voice_installed(tts.mbrola_voice) else tts.espeak_voice
    return EspeakEngine(voice=voice, speed=tts.espeak_speed)


def twilio_say_attributes(settings) -> dict:
    """Attributes for TwiML `<Say>` so a call on Twilio speaks the same text in Dutch."""
    attributes = {"language": settings.twilio.say_language}
    if settings.twilio.say_voice:
        attributes["voice"] = settings.twilio.say_voice
    return attributes
