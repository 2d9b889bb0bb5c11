"""`burgernet prompts say|render-ivr|compose` and `burgernet bench tts`."""

from __future__ import annotations

import json
import wave

import pytest

from app import cli, create_app
from config.settings import Settings
from prompts.ivr_prompts import static_prompt_keys
from tests.support.cli import cli_runner


@pytest.fixture
def runner(tmp_path):
    settings = Settings(
        _env_file=None,
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        secret_key="test",
        asterisk={"sounds_dir": str(tmp_path / "sounds")},
    )
    app = create_app(settings)
    yield cli_runner(app)
    app.extensions["burgernet.db"].dispose()


def test_say_writes_telephony_wav(runner, tmp_path):
    out = tmp_path / "out.wav"
    result = runner.invoke(
        cli, ["prompts", "say", "Wilt u uitkijken naar een man van ca. 25 jr.", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "ongeveer vijfentwintig jaar" in result.output
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert 1.5 < wav.getnframes() / wav.getframerate() < 8


def test_say_refuses_unspeakable_text_with_exit_status(runner, tmp_path):
    out = tmp_path / "out.wav"
    result = runner.invoke(cli, ["prompts", "say", "Zie www.politie.nl", "-o", str(out)])
    assert result.exit_code == 1
    assert "internetadres" in result.output
    assert not out.exists()


def test_render_ivr_renders_every_fixed_prompt_and_ships_the_dialplan_fallback(runner, tmp_path):
    result = runner.invoke(cli, ["prompts", "render-ivr"])
    assert result.exit_code == 0, result.output
    *lines, fallback = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == static_prompt_keys()
    assert all(line.split()[1] == "tts" for line in lines)
    # [burgernet-fallback] plays ${BURGERNET_SOUNDS}/burgernet-fallback: never dead air.
    assert fallback.startswith("dialplan fallback")
    with wave.open(str(tmp_path / "sounds" / "burgernet-fallback.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 8000


def test_compose_prints_every_channel(runner):
    result = runner.invoke(
        cli, ["prompts", "compose", "vehicle", "--field", "plate=12ABC3", "--field", "colour=red"]
    )
    assert result.exit_code == 0, result.output
    assert "kenteken één twee, aa bee cee, drie" in result.output
    assert "SMS:     Burgernet: kijk uit naar een rood voertuig 12-ABC-3" in result.output
    bad = runner.invoke(cli, ["prompts", "compose", "vehicle", "--field", "colour=turquoise"])
    assert bad.exit_code == 1 and "Kleur" in bad.output


def test_bench_tts_prints_one_json_line_last(runner):
    result = runner.invoke(cli, ["bench", "tts", "--runs", "1", "--lookups", "5", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["words"] == 60
    assert 10 < figures["audio_s"] < 60
    assert figures["render_ms"] > figures["cached_ms"] > 0
    # The normalisation figures cover the whole corpus (issue 16); no timing goal in a test.
    assert figures["descriptions"] >= 200
    assert figures["normalise_p95_us"] >= figures["normalise_median_us"] > 0
    assert figures["baseline_median_us"] > 0
    assert isinstance(figures["normalise_goal_met"], bool)
