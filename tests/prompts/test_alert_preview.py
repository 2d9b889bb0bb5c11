"""Audio served by key from the cache (the console's preview plays it): only real keys."""

from __future__ import annotations

import pytest

from config.settings import Settings
from prompts.audio import find_cached, render


@pytest.fixture
def preview_settings(tmp_path) -> Settings:
    return Settings(_env_file=None, instance_path=tmp_path / "instance", callback_number="0800-0011")


def test_find_cached_serves_a_rendered_key(preview_settings):
    rendered = render("Wilt u uitkijken naar een rode auto.", preview_settings)
    cached = find_cached(rendered.key, preview_settings)
    assert cached is not None and cached.cached and cached.web.exists()
    assert cached.text == "Wilt u uitkijken naar een rode auto."


def test_find_cached_rejects_bad_and_unknown_keys(preview_settings):
    assert find_cached("../../etc/passwd", preview_settings) is None
    assert find_cached("0" * 64, preview_settings) is None
