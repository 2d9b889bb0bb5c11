"""The web preview: texts and audio in one call, audio served by key from the cache."""

from __future__ import annotations

import pytest

from config.settings import Settings
from prompts.audio import find_cached
from prompts.errors import InvalidDescription
from prompts.preview import alert_preview


@pytest.fixture
def preview_settings(tmp_path) -> Settings:
    return Settings(_env_file=None, instance_path=tmp_path / "instance", callback_number="0800-0011")


def test_preview_renders_the_voice_ahead_of_start(preview_settings):
    preview = alert_preview("vehicle", {"plate": "12-ABC-3", "colour": "red"}, "", preview_settings)
    data = preview.as_dict()
    assert data["display"].endswith("bel dan gratis 0800-0011.")
    assert data["sms_chars"] == len(data["sms"]) <= 160
    assert data["sms_encoding"] == "GSM-7" and data["sms_segments"] == 1
    assert data["audio_duration_s"] > 3
    cached = find_cached(data["audio_key"], preview_settings)
    assert cached is not None and cached.cached and cached.web.exists()
    assert cached.text == preview.message.voice


def test_find_cached_rejects_bad_and_unknown_keys(preview_settings):
    assert find_cached("../../etc/passwd", preview_settings) is None
    assert find_cached("0" * 64, preview_settings) is None


def test_preview_without_audio_and_with_errors(preview_settings):
    preview = alert_preview(
        "other", {"subject": "een loslopend paard"}, "", preview_settings, with_audio=False
    )
    assert preview.audio is None and preview.as_dict()["audio_key"] is None
    with pytest.raises(InvalidDescription):
        alert_preview("other", {}, "", preview_settings)
