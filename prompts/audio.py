"""The audio pipeline (pydub) and the cache of rendered prompts.

A text is spoken once by the TTS engine, then trimmed, levelled and given a short lead-in with
pydub, and written in the forms each backend plays:

- `wav_8k`: 8 kHz mono 16-bit WAV for Asterisk (resampled by sox, which filters properly;
  pydub's own resampler is the fallback when sox is missing),
- `sln` and `ulaw`: the same audio as raw signed-linear and mu-law, which Asterisk plays
  without transcoding,
- `web`: a mono 16-bit WAV at the engine's rate that browsers (web preview) and Twilio `<Play>`
  play directly.

The cache lives under `settings.audio_cache_dir`, keyed by a sha256 of (pipeline, engine,
voice, engine parameters, text). A render happens under a per-key file lock and is published by
atomic renames, the metadata file last; so two processes rendering the same text at once do
the work once, and a reader never sees half a file.
"""

from __future__ import annotations

# audioop left the standard library in Python 3.13; there `audioop-lts` (a dependency under
# that marker in pyproject.toml) provides the same module, for us and for pydub.
import audioop
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.silence import detect_leading_silence

from config.logging import log_event
from prompts.errors import AudioError, PromptError
from prompts.spoken import clean_text, to_spoken
from prompts.tts import TtsEngine, engine_from_settings

logger = logging.getLogger(__name__)

PIPELINE_VERSION = 1
TELEPHONY_RATE = 8000
LEAD_IN_MS = 300  # a short silence so the first syllable is not clipped when the line opens
TAIL_MS = 200
SILENCE_THRESHOLD_DBFS = -50.0
TARGET_RMS_DBFS = -18.0  # speech level; telephony codecs like a moderate, even level
PEAK_CEILING_DBFS = -1.0
MAX_TEXT_CHARS = 5000


@dataclass(frozen=True)
class RenderedPrompt:
    key: str
    text: str
    wav_8k: Path  # 8 kHz mono 16-bit WAV for Asterisk
    sln: Path  # raw signed linear 16-bit 8 kHz (Asterisk .sln)
    ulaw: Path  # raw mu-law 8 kHz (Asterisk .ulaw)
    web: Path  # browser- and Twilio-playable WAV
    duration_s: float
    cached: bool = False

    @property
    def asterisk_name(self) -> str:
        """The name Asterisk's Playback() takes: the path without extension."""
        return str(self.wav_8k.with_suffix(""))


def cache_key(engine: TtsEngine, text: str) -> str:
    material = {
        "pipeline": PIPELINE_VERSION,
        "lead_in_ms": LEAD_IN_MS,
        "tail_ms": TAIL_MS,
        "target_rms": TARGET_RMS_DBFS,
        "engine": engine.name,
        "voice": engine.voice,
        "parameters": engine.parameters,
        "text": text,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def prepare_text(text: str) -> str:
    """Clean and normalise text for speech; refuses what a voice cannot say."""
    spoken = to_spoken(clean_text(text))
    if not spoken:
        raise PromptError("nothing to speak: the text is empty", "Er is geen tekst om uit te spreken.")
    if len(spoken) > MAX_TEXT_CHARS:
        raise PromptError(
            f"text of {len(spoken)} characters is too long to speak (max {MAX_TEXT_CHARS})",
            "De tekst is te lang om uit te spreken.",
        )
    return spoken


# --- the pydub pipeline --------------------------------------------------------------------


def process(segment: AudioSegment) -> AudioSegment:
    """Mono 16-bit, silence trimmed at both ends, levelled, with lead-in and tail silence."""
    segment = segment.set_channels(1).set_sample_width(2)
    start = detect_leading_silence(segment, silence_threshold=SILENCE_THRESHOLD_DBFS, chunk_size=5)
    end = len(segment) - detect_leading_silence(
        segment.reverse(), silence_threshold=SILENCE_THRESHOLD_DBFS, chunk_size=5
    )
    if end - start < 50:
        raise AudioError("the audio is silent", "De opname of spraak bevat geen geluid.")
    segment = segment[start:end]
    gain = min(TARGET_RMS_DBFS - segment.dBFS, PEAK_CEILING_DBFS - segment.max_dBFS)
    segment = segment.apply_gain(gain)
    rate = segment.frame_rate
    return (
        AudioSegment.silent(LEAD_IN_MS, frame_rate=rate)
        + segment
        + AudioSegment.silent(TAIL_MS, frame_rate=rate)
    )


def to_telephony(web_wav: Path, out_wav: Path, segment: AudioSegment) -> AudioSegment:
    """8 kHz mono 16-bit: sox when installed (band-limited resampling), else pydub."""
    sox = shutil.which("sox")
    if sox:
        result = subprocess.run(
            [
                sox,
                "-q",
                str(web_wav),
                "-r",
                str(TELEPHONY_RATE),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(out_wav),
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise AudioError(
                "sox failed: " + result.stderr.decode("utf-8", "replace")[:300],
                "Het omzetten van de audio is mislukt.",
            )
        return AudioSegment.from_wav(out_wav)
    telephone = segment.set_frame_rate(TELEPHONY_RATE)
    telephone.export(out_wav, format="wav")
    return telephone


def _write_outputs(source: AudioSegment, workdir: Path, stem: str) -> tuple[dict[str, Path], float]:
    processed = process(source)
    web = workdir / f"{stem}.web.wav"
    processed.export(web, format="wav")
    wav_8k = workdir / f"{stem}.wav"
    telephone = to_telephony(web, wav_8k, processed)
    if telephone.frame_rate != TELEPHONY_RATE or telephone.channels != 1 or telephone.sample_width != 2:
        raise AudioError("telephony audio has the wrong format", "Het omzetten van de audio is mislukt.")
    sln = workdir / f"{stem}.sln"
    sln.write_bytes(telephone.raw_data)
    ulaw = workdir / f"{stem}.ulaw"
    ulaw.write_bytes(audioop.lin2ulaw(telephone.raw_data, 2))
    return {"wav_8k": wav_8k, "sln": sln, "ulaw": ulaw, "web": web}, len(telephone) / 1000.0


# --- the cache -----------------------------------------------------------------------------


def _paths(cache_dir: Path, key: str) -> dict[str, Path]:
    shard = cache_dir / key[:2]
    return {
        "wav_8k": shard / f"{key}.wav",
        "sln": shard / f"{key}.sln",
        "ulaw": shard / f"{key}.ulaw",
        "web": shard / f"{key}.web.wav",
        "meta": shard / f"{key}.json",
        "lock": shard / f"{key}.lock",
    }


def _load_cached(key: str, paths: dict[str, Path]) -> RenderedPrompt | None:
    try:
        meta = json.loads(paths["meta"].read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not all(paths[name].exists() for name in ("wav_8k", "sln", "ulaw", "web")):
        return None
    return RenderedPrompt(
        key=key,
        text=meta["text"],
        wav_8k=paths["wav_8k"],
        sln=paths["sln"],
        ulaw=paths["ulaw"],
        web=paths["web"],
        duration_s=meta["duration_s"],
        cached=True,
    )


@contextmanager
def _key_lock(lock_path: Path):
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _render_cached(cache_dir: Path, key: str, text: str, produce, meta_extra: dict) -> RenderedPrompt:
    """Return the cached prompt for `key`, or make it with `produce(workdir) -> AudioSegment`."""
    paths = _paths(cache_dir, key)
    cached = _load_cached(key, paths)
    if cached:
        return cached
    paths["meta"].parent.mkdir(parents=True, exist_ok=True)
    with _key_lock(paths["lock"]):
        cached = _load_cached(key, paths)  # another process may have finished meanwhile
        if cached:
            return cached
        started = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(prefix=".render-", dir=paths["meta"].parent))
        try:
            source = produce(workdir)
            outputs, duration = _write_outputs(source, workdir, key)
            for name, path in outputs.items():
                os.replace(path, paths[name])
            meta = {"text": text, "duration_s": round(duration, 3), **meta_extra}
            meta_tmp = workdir / "meta.json"
            meta_tmp.write_text(json.dumps(meta, ensure_ascii=False))
            os.replace(meta_tmp, paths["meta"])  # last: publishes the entry
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        log_event(
            logger,
            "prompts.rendered",
            key=key[:12],
            duration_s=round(duration, 2),
            render_ms=round((time.perf_counter() - started) * 1000, 1),
            **meta_extra,
        )
    return RenderedPrompt(
        key=key,
        text=text,
        wav_8k=paths["wav_8k"],
        sln=paths["sln"],
        ulaw=paths["ulaw"],
        web=paths["web"],
        duration_s=round(duration, 3),
    )


def find_cached(key: str, settings) -> RenderedPrompt | None:
    """A rendered prompt by its key (e.g. for a web route serving `/audio/<key>`); None when
    the key is malformed or not (yet) rendered. Never reads outside the cache."""
    if not re.fullmatch(r"[0-9a-f]{64}", key or ""):
        return None
    return _load_cached(key, _paths(Path(settings.audio_cache_dir), key))


def render(text: str, settings, engine: TtsEngine | None = None) -> RenderedPrompt:
    """Speak `text` (cleaned and normalised first) and return the files for every backend.

    Rendered once per (engine, voice, parameters, text); later calls return the cached files.
    Raises UnspeakableText for text a voice cannot say, TtsError/AudioError on engine failure.
    """
    engine = engine or engine_from_settings(settings)
    spoken = prepare_text(text)
    key = cache_key(engine, spoken)

    def produce(workdir: Path) -> AudioSegment:
        raw = workdir / "tts.wav"
        engine.synthesize(spoken, raw)
        return AudioSegment.from_wav(raw)

    return _render_cached(
        Path(settings.audio_cache_dir), key, spoken, produce, {"engine": engine.name, "voice": engine.voice}
    )


def render_recording(recording: Path, settings, label: str = "") -> RenderedPrompt:
    """Run a recorded human voice file (WAV, or any format ffmpeg reads) through the same
    pipeline; cached by the file's content, so replacing the file re-renders it."""
    try:
        content = recording.read_bytes()
    except OSError as error:
        raise AudioError(
            f"cannot read recording {recording}: {error}",
            "Het opgenomen geluidsbestand kan niet worden gelezen.",
        ) from None
    key = hashlib.sha256(
        json.dumps(
            {
                "pipeline": PIPELINE_VERSION,
                "lead_in_ms": LEAD_IN_MS,
                "tail_ms": TAIL_MS,
                "target_rms": TARGET_RMS_DBFS,
                "recording": hashlib.sha256(content).hexdigest(),
            }
        ).encode()
    ).hexdigest()

    def produce(workdir: Path) -> AudioSegment:
        try:
            return AudioSegment.from_file(recording)
        except Exception as error:  # pydub raises several types for undecodable input
            raise AudioError(
                f"cannot decode recording {recording}: {error}",
                "Het opgenomen geluidsbestand is geen bruikbare audio.",
            ) from None

    return _render_cached(
        Path(settings.audio_cache_dir),
        key,
        label or recording.name,
        produce,
        {"engine": "recording", "voice": recording.name},
    )
