from __future__ import annotations

from datetime import UTC, datetime

import pytest
from audio_files import write_wav

from callback_line.recordings import RecordingError, store_recording, wav_duration_s

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
