from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest
from audio_files import write_wav
from full_disk import fill

from callback_line import recordings
from callback_line.recordings import (
    RecordingError,
    assess_recording,
    keep_recording,
    recording_space,
    store_recording,
    wav_duration_s,
)

NOW = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)


def test_moves_into_a_dated_folder(tmp_path):
    source = write_wav(tmp_path / "pbx" / "x.wav", seconds=3.0)
    store = tmp_path / "recordings"
    stored = store_recording(source, store, NOW)
    assert stored.relative_path.startswith("2026/11/28/sighting-20261128T140005-")
    assert stored.path == store.resolve() / stored.relative_path
    assert stored.path.is_file() and not source.exists()
    assert stored.duration_s == pytest.approx(3.0) and stored.size_bytes == 44 + 3 * 8000 * 2


def test_a_file_already_in_the_store_stays(tmp_path):
    store = tmp_path / "recordings"
    source = write_wav(store / "pbx" / "x.wav", seconds=1.0)
    stored = store_recording(source, store, NOW)
    assert stored.relative_path == "pbx/x.wav" and source.exists()


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        store_recording(tmp_path / "nope.wav", tmp_path, NOW)


def test_duration_of_a_non_wav_is_unknown(tmp_path):
    junk = tmp_path / "x.wav"
    junk.write_bytes(b"not audio")
    assert wav_duration_s(junk) is None


# --- full and unwritable disks ---------------------------------------------------------------


def test_room_to_record_needs_the_minimum_free_space(tmp_path, monkeypatch):
    assert recording_space(tmp_path, 1_000_000) is None

    class Usage:
        free = 3_000_000

    monkeypatch.setattr(recordings.shutil, "disk_usage", lambda _path: Usage)
    reason = recording_space(tmp_path, 16_000_000)
    assert reason == f"{tmp_path}: 3.0 MB free, below the minimum of 16.0 MB"
    assert recording_space(tmp_path / "gone", 0) == f"{tmp_path / 'gone'}: no such directory"


def test_a_full_tmpfs_has_no_room_even_without_a_minimum(tiny_tmpfs):
    disk = tiny_tmpfs()
    assert recording_space(disk, 0) is None
    fill(disk)
    reason = recording_space(disk, 0)
    assert reason == f"{disk}: not writable (No space left on device)"
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "filler-tail"]  # no probe left


def test_a_read_only_directory_has_no_room(tiny_tmpfs):
    disk = tiny_tmpfs(size="1m")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    assert recording_space(disk, 0) == f"{disk}: not writable (Read-only file system)"


def test_a_recording_shorter_than_the_recorder_counted_is_truncated(tmp_path):
    audio = write_wav(tmp_path / "r.wav", seconds=4.0)
    assert assess_recording(audio, 4.3, "") == recordings.Assessment("complete", 4.0, None)
    cut = assess_recording(audio, 8.0, "")
    assert (cut.status, cut.kept_s, cut.error) == (
        "truncated",
        4.0,
        "cut short: 4.0 of 8.0 s reached the disk",
    )
    flagged = assess_recording(audio, None, "RECORD FILE failed")
    assert (flagged.status, flagged.kept_s) == ("truncated", 4.0)


def test_a_file_with_a_hole_counts_only_what_was_written(tmp_path):
    # What a recorder leaves when it seeks past a full disk: the size says 6 s, 2 s were written.
    audio = write_wav(tmp_path / "r.wav", seconds=2.0)
    os.truncate(audio, 44 + 6 * 16000)
    verdict = assess_recording(audio, 6.0, "")
    assert verdict.status == "truncated" and verdict.kept_s == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("content", [b"RIFF", b"", None])
def test_a_header_only_or_missing_file_is_a_failed_recording(tmp_path, content):
    path = tmp_path / "r.wav"
    if content is not None:
        path.write_bytes(content)
    verdict = assess_recording(path, 8.0, "")
    assert verdict.status == "failed"
    assert assess_recording(None, None, "").error == "the recorder delivered no audio file"


def test_a_full_store_leaves_the_audio_where_it_was_and_says_where(tmp_path, tiny_tmpfs):
    store = tiny_tmpfs("store")
    fill(store)
    source = write_wav(tmp_path / "pbx" / "r.wav", seconds=2.0)
    kept = keep_recording(source, 2.0, "", store, NOW)
    assert kept.status == "failed" and kept.relative_path is None
    assert kept.error.endswith(f"audio kept at {source}") and "No space left on device" in kept.error
    assert source.is_file() and source.stat().st_size == 44 + 2 * 16000  # untouched
    leftovers = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith("filler")]
    assert leftovers == []  # no half-copied file in the store


def test_a_store_too_small_for_the_file_removes_its_partial_copy(tmp_path, tiny_tmpfs):
    store = tiny_tmpfs("store", size="16k")
    source = write_wav(tmp_path / "pbx" / "r.wav", seconds=2.0)  # 32 KB
    with pytest.raises(RecordingError, match="audio kept at"):
        store_recording(source, store, NOW)
    assert source.is_file()
    assert [p for p in store.rglob("*") if p.is_file()] == []


def test_a_truncated_recording_is_moved_as_far_as_it_goes(tmp_path):
    source = write_wav(tmp_path / "pbx" / "r.wav", seconds=4.0)
    kept = keep_recording(source, 8.0, "", tmp_path / "store", NOW)
    assert (kept.status, kept.duration_s) == ("truncated", 4.0)
    assert (tmp_path / "store" / kept.relative_path).is_file() and not source.exists()
