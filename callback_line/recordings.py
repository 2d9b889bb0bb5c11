"""Keeping a sighting's audio: moved into the platform's recordings folder and flushed to disk
before its Sighting row is committed (and both before the caller hears "thank you")."""

from __future__ import annotations

import os
import shutil
import uuid
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


class RecordingError(Exception):
    """The audio a renderer reported cannot be kept."""


@dataclass(frozen=True)
class StoredRecording:
    relative_path: str  # under settings.recordings_dir, as Sighting.recording_path stores it
    path: Path
    size_bytes: int
    duration_s: float | None


def wav_duration_s(path: Path) -> float | None:
    """Length of a WAV file in seconds; None when it is not a readable WAV."""
    try:
        with wave.open(str(path), "rb") as audio:
            rate = audio.getframerate()
            return round(audio.getnframes() / rate, 2) if rate else None
    except (wave.Error, EOFError, OSError):
        return None


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_recording(source: str | Path, recordings_dir: Path, now: datetime) -> StoredRecording:
    """Move (or keep) the file under `recordings_dir/YYYY/MM/DD/` and make it durable.

    A file already inside `recordings_dir` stays where it is. Raises RecordingError when the
    file does not exist."""
    source = Path(source)
    if not source.is_file():
        raise RecordingError(f"recording {source} does not exist")
    root = recordings_dir.resolve()
    resolved = source.resolve()
    if resolved.is_relative_to(root):
        target = resolved
    else:
        folder = root / f"{now:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"sighting-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}{source.suffix or '.wav'}"
        shutil.move(str(source), target)
    _fsync(target)
    _fsync(target.parent)
    return StoredRecording(
        relative_path=str(target.relative_to(root)),
        path=target,
        size_bytes=target.stat().st_size,
        duration_s=wav_duration_s(target),
    )
