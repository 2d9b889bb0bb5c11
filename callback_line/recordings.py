"""Keeping a sighting's audio whatever the disk does.

Three steps, each safe on a full or read-only disk:

1. `recording_space(dir, min_free)`: before the caller is asked to speak, is there room (at
   least `settings.recording_min_free_mb` free) and can a file be written (a probe file is
   created and removed)? Checked for the directory the recorder writes into (Asterisk's
   `asterisk.recordings_dir`) and for the platform's store (`settings.recordings_dir`).
2. `assess_recording(path, reported_s, error)`: what reached the disk, compared with what the
   recorder says it recorded (RECORD FILE's end position, Twilio's RecordingDuration), the
   recorder's own error, and holes in the file (a sparse file: the disk filled while Asterisk
   kept seeking forward). The verdict is `complete`, `truncated` (with the seconds kept) or
   `failed`.
3. `store_recording(source, recordings_dir, now)`: move the file into the store under
   `YYYY/MM/DD/` and flush it to disk. A move that fails leaves the source where it was (a
   half-copied target is removed) and raises `RecordingError` naming where the audio is, so
   the Sighting row, written before the move, can point at it.

`keep_recording` runs 2 and 3 and never raises: the caller's flow gets a `KeptRecording` to
write on the row and to decide what the caller hears ("vastgelegd" only when complete).
`file_recording` does that for a Sighting row (the call-back flow, and Twilio's recording
callback when the audio arrives after the call).
"""

from __future__ import annotations

import os
import shutil
import uuid
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from db.models import Sighting

COMPLETE = "complete"
TRUNCATED = "truncated"
FAILED = "failed"
NONE = "none"  # no recording was made (the caller hung up first, or was put through)

WAV_HEADER_BYTES = 44
# The recorder's count and the file may differ by rounding and a trimmed tail; more than this
# is audio that never reached the disk.
TOLERANCE_S = 1.0
ERROR_LENGTH = 200  # Sighting.recording_error


class RecordingError(Exception):
    """The audio a renderer reported cannot be kept (missing, or the move failed)."""


@dataclass(frozen=True)
class StoredRecording:
    relative_path: str  # under settings.recordings_dir, as Sighting.recording_path stores it
    path: Path
    size_bytes: int
    duration_s: float | None


@dataclass(frozen=True)
class Assessment:
    status: str  # complete | truncated | failed
    kept_s: float | None  # seconds of audio in the file
    error: str | None  # why it is not complete


@dataclass(frozen=True)
class KeptRecording:
    """What became of one recording, for its Sighting row."""

    status: str  # complete | truncated | failed
    relative_path: str | None  # in the store; None when it could not be moved there
    duration_s: float | None
    error: str | None  # why not complete; names where the audio is when it is not in the store

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE


def clip(text: str, length: int = ERROR_LENGTH) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."


# --- 1. room to record ----------------------------------------------------------------------


def recording_space(directory: str | Path, min_free_bytes: int) -> str | None:
    """None when a recording can be written into `directory`; otherwise why not, in one line
    (for the Sighting row and the operators' log)."""
    directory = Path(directory)
    if not directory.is_dir():
        return f"{directory}: no such directory"
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return f"{directory}: cannot read free space ({exc.strerror or exc})"
    if free < min_free_bytes:
        return f"{directory}: {_mb(free)} free, below the minimum of {_mb(min_free_bytes)}"
    probe = directory / f".write-probe-{uuid.uuid4().hex}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{directory}: not writable ({exc.strerror or exc})"
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only filesystem refuses even that; nothing was created there
    return None


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


# --- 2. what reached the disk -------------------------------------------------------------


def wav_duration_s(path: Path) -> float | None:
    """Length of a WAV file in seconds; None when it is not a readable WAV."""
    try:
        with wave.open(str(path), "rb") as audio:
            rate = audio.getframerate()
            return round(audio.getnframes() / rate, 2) if rate else None
    except (wave.Error, EOFError, OSError):
        return None


def _wav_format(path: Path) -> tuple[int, int] | None:
    """(bytes per second, header bytes) of a readable WAV; None otherwise."""
    try:
        with open(path, "rb") as raw, wave.open(raw, "rb") as audio:
            rate = audio.getframerate() * audio.getsampwidth() * audio.getnchannels()
            header = raw.tell()  # the reader stops at the start of the data chunk
            return (rate, header) if rate else None
    except (wave.Error, EOFError, OSError):
        return None


def _first_hole(path: Path, size: int) -> int:
    """Offset of the first hole (never-written bytes) in the file; `size` when there is none
    or the filesystem cannot tell."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return size
    try:
        return min(size, os.lseek(fd, 0, os.SEEK_HOLE))
    except (OSError, AttributeError):
        return size
    finally:
        os.close(fd)


def assess_recording(path: str | Path | None, reported_s: float | None, error: str = "") -> Assessment:
    """How much of the recording is on disk, and whether that is all of it."""
    if not path:
        return Assessment(FAILED, None, clip(error or "the recorder delivered no audio file"))
    path = Path(path)
    try:
        info = path.stat()
    except OSError:
        return Assessment(FAILED, None, clip(f"{error + '; ' if error else ''}no audio file at {path}"))
    fmt = _wav_format(path)
    if fmt is None or info.st_size <= WAV_HEADER_BYTES:
        return Assessment(
            FAILED, 0.0, clip(f"{error + '; ' if error else ''}{info.st_size} bytes, no audio in the file")
        )
    rate, header = fmt
    data = info.st_size - header
    # A file written past a full disk may have a hole: its size counts bytes never written.
    first_hole = _first_hole(path, info.st_size)
    holes = first_hole < info.st_size
    if holes:
        data = max(0, first_hole - header)
    header_s = wav_duration_s(path)
    kept_s = round(data / rate, 2)
    if header_s is not None:
        kept_s = min(kept_s, header_s)
    if kept_s <= 0:
        return Assessment(FAILED, 0.0, clip(f"{error + '; ' if error else ''}no audio in the file"))
    reasons = []
    if error:
        reasons.append(error)
    if holes:
        reasons.append(f"a hole in the file after {first_hole} of {info.st_size} bytes")
    if reported_s is not None and reported_s > kept_s + TOLERANCE_S:
        reasons.append(f"{kept_s:.1f} of {reported_s:.1f} s reached the disk")
    if reasons:
        return Assessment(TRUNCATED, kept_s, clip("cut short: " + "; ".join(reasons)))
    return Assessment(COMPLETE, kept_s, None)


# --- 3. into the store ---------------------------------------------------------------------


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move(source: Path, target: Path) -> None:
    """Rename when on one filesystem; otherwise copy under a temporary name, flush, rename,
    and only then remove the source. On any error the source is untouched and no partial
    target is left behind."""
    try:
        os.rename(source, target)
        return
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem; anything else is a real error
            raise
    partial = target.with_name(f".{target.name}.part")
    try:
        with open(source, "rb") as src, open(partial, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    source.unlink()


def store_recording(source: str | Path, recordings_dir: Path, now: datetime) -> StoredRecording:
    """Move (or keep) the file under `recordings_dir/YYYY/MM/DD/` and make it durable.

    A file already inside `recordings_dir` stays where it is. Raises RecordingError when the
    file does not exist or cannot be moved (then it is still at `source`)."""
    source = Path(source)
    if not source.is_file():
        raise RecordingError(f"recording {source} does not exist")
    root = recordings_dir.resolve()
    resolved = source.resolve()
    try:
        if resolved.is_relative_to(root):
            target = resolved
        else:
            folder = root / f"{now:%Y/%m/%d}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"sighting-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}{source.suffix or '.wav'}"
            target = folder / name
            _move(source, target)
        _fsync(target)
        _fsync(target.parent)
    except OSError as exc:
        raise RecordingError(
            f"not moved into the store ({exc.strerror or exc}); audio kept at {source}"
        ) from exc
    return StoredRecording(
        relative_path=str(target.relative_to(root)),
        path=target,
        size_bytes=target.stat().st_size,
        duration_s=wav_duration_s(target),
    )


def keep_recording(
    source: str | Path | None,
    reported_s: float | None,
    recorder_error: str,
    recordings_dir: Path,
    now: datetime,
) -> KeptRecording:
    """Assess the recording where the recorder left it, then move whatever audio there is into
    the store (a partial file too: never orphaned). Never raises."""
    verdict = assess_recording(source, reported_s, recorder_error)
    if not source or not Path(source).is_file():
        return KeptRecording(FAILED, None, None, verdict.error)
    try:
        stored = store_recording(source, recordings_dir, now)
    except RecordingError as exc:
        reason = f"{verdict.error}; {exc}" if verdict.error else str(exc)
        return KeptRecording(FAILED, None, verdict.kept_s, clip(reason))
    return KeptRecording(verdict.status, stored.relative_path, verdict.kept_s, verdict.error)


def file_recording(
    sighting: Sighting,
    source: str | Path | None,
    reported_s: float | None,
    recorder_error: str,
    recordings_dir: Path,
    now: datetime,
) -> KeptRecording:
    """Keep the recording and write what became of it on the row (the caller commits)."""
    kept = keep_recording(source, reported_s, recorder_error, recordings_dir, now)
    sighting.recording_status = kept.status
    sighting.recording_error = kept.error
    sighting.recording_path = kept.relative_path
    sighting.duration_s = kept.duration_s if kept.duration_s is not None else reported_s
    return kept
