"""Real audio with espeak-ng: format, duration, loudness, cache, concurrency, engines."""

from __future__ import annotations

import multiprocessing
import os
import stat
import wave
from pathlib import Path

import pytest
from pydub import AudioSegment

from config.settings import Settings
from prompts.audio import LEAD_IN_MS, PEAK_CEILING_DBFS, cache_key, render
from prompts.errors import AudioError, PromptError, TtsError, UnspeakableText
from prompts.tts import EspeakEngine, PiperEngine, engine_from_settings, twilio_say_attributes

pytestmark = pytest.mark.skipif(
    not Path("/usr/bin/espeak-ng").exists(), reason="espeak-ng is installed by scripts/setup"
)

ALERT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer "
    "25 jaar met een blauwe jas. Ziet u deze persoon, bel dan gratis 0800-0011."
)


@pytest.fixture
def audio_settings(tmp_path) -> Settings:
    return Settings(_env_file=None, instance_path=tmp_path / "instance")


class CountingEngine:
    """espeak-ng that leaves one marker file per synthesis, so tests (and other processes)
    can count how often the engine really ran."""

    def __init__(self, markers: Path, speed: int = 150) -> None:
        self.inner = EspeakEngine(speed=speed)
        self.name, self.voice = self.inner.name, self.inner.voice
        self.markers = markers
        markers.mkdir(parents=True, exist_ok=True)

    @property
    def parameters(self) -> dict:
        return self.inner.parameters

    def synthesize(self, text: str, out_wav: Path) -> None:
        (self.markers / f"{os.getpid()}-{len(list(self.markers.iterdir()))}").touch()
        self.inner.synthesize(text, out_wav)

    @property
    def runs(self) -> int:
        return len(list(self.markers.iterdir()))


class SilentEngine:
    name, voice, parameters = "silent", "none", {}

    def synthesize(self, text: str, out_wav: Path) -> None:
        AudioSegment.silent(2000, frame_rate=22050).export(out_wav, format="wav")


def _wav_format(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as wav:
        return (
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getnframes() / wav.getframerate(),
        )


def test_render_produces_telephony_and_web_audio(audio_settings):
    prompt = render(ALERT, audio_settings)
    rate, channels, width, duration = _wav_format(prompt.wav_8k)
    assert (rate, channels, width) == (8000, 1, 2)
    # 24 spoken words at espeak's 150 words a minute: about 10 s; generous bounds.
    assert 5.0 < duration < 20.0
    assert prompt.duration_s == pytest.approx(duration, abs=0.01)
    web_rate, web_channels, web_width, web_duration = _wav_format(prompt.web)
    assert web_channels == 1 and web_width == 2 and web_rate >= 16000
    assert web_duration == pytest.approx(duration, abs=0.02)
    # Raw forms for Asterisk: 16-bit signed linear and 8-bit mu-law, same number of samples.
    samples = round(duration * 8000)
    assert prompt.sln.stat().st_size == pytest.approx(samples * 2, abs=4)
    assert prompt.ulaw.stat().st_size == pytest.approx(samples, abs=2)
    assert prompt.asterisk_name == str(prompt.wav_8k)[: -len(".wav")]
    assert prompt.text.endswith("bel dan gratis nul acht nul nul, nul nul één één.")


def test_rendered_audio_is_speech_not_silence_and_levelled(audio_settings):
    prompt = render(ALERT, audio_settings)
    audio = AudioSegment.from_wav(prompt.wav_8k)
    assert audio.max_dBFS <= PEAK_CEILING_DBFS + 0.5
    lead_in = audio[: LEAD_IN_MS - 50]
    speech = audio[LEAD_IN_MS:-300]
    assert lead_in.max_dBFS < -60  # the lead-in is silence
    assert speech.dBFS > -30  # the body is speech at a useful level
    # Speech has pauses and syllables: the level varies across 250 ms windows.
    levels = [speech[i : i + 250].dBFS for i in range(0, len(speech) - 250, 250)]
    assert max(levels) - min(levels) > 10


def test_longer_text_gives_longer_audio(audio_settings):
    short = render("Wilt u uitkijken.", audio_settings)
    long = render("Wilt u uitkijken naar een man met een rode jas en een zwarte pet.", audio_settings)
    assert 0.5 < short.duration_s < long.duration_s < 10


def test_cache_hit_does_not_render_again(audio_settings, tmp_path):
    engine = CountingEngine(tmp_path / "markers")
    first = render(ALERT, audio_settings, engine)
    second = render(ALERT, audio_settings, engine)
    assert engine.runs == 1
    assert not first.cached and second.cached
    assert second.key == first.key and second.wav_8k == first.wav_8k
    assert second.duration_s == first.duration_s
    # Written and spoken forms of the same message are the same text to speak.
    assert render(ALERT.replace("25", "vijfentwintig"), audio_settings, engine).cached
    render("Een andere tekst.", audio_settings, engine)
    assert engine.runs == 2
    files = sorted(p.name for p in first.wav_8k.parent.iterdir() if p.name.startswith(first.key))
    assert files == sorted(
        f"{first.key}{ext}" for ext in (".wav", ".sln", ".ulaw", ".web.wav", ".json", ".lock")
    )


def test_cache_key_depends_on_engine_voice_parameters_and_text(tmp_path):
    normal, fast = CountingEngine(tmp_path / "a"), CountingEngine(tmp_path / "b", speed=190)
    assert cache_key(normal, "tekst") != cache_key(fast, "tekst")
    assert cache_key(normal, "tekst") != cache_key(normal, "tekst.")
    assert cache_key(normal, "tekst") == cache_key(CountingEngine(tmp_path / "c"), "tekst")
    assert cache_key(EspeakEngine(voice="nl"), "x") != cache_key(EspeakEngine(voice="mb-nl2"), "x")


def _render_in_child(settings_path: str, markers: str, barrier, queue) -> None:
    settings = Settings(_env_file=None, instance_path=Path(settings_path))
    engine = CountingEngine(Path(markers))
    barrier.wait()
    prompt = render(ALERT, settings, engine)
    queue.put((prompt.key, str(prompt.wav_8k), prompt.duration_s))


def test_two_processes_rendering_the_same_text_at_once(audio_settings, tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(3), context.Queue()
    children = [
        context.Process(
            target=_render_in_child,
            args=(str(audio_settings.instance_path), str(tmp_path / "markers"), barrier, queue),
        )
        for _ in range(3)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    results = [queue.get(timeout=5) for _ in children]
    assert len({key for key, _, _ in results}) == 1
    assert len({duration for _, _, duration in results}) == 1
    assert len(list((tmp_path / "markers").iterdir())) == 1  # rendered once
    wav_8k = Path(results[0][1])
    assert _wav_format(wav_8k)[:3] == (8000, 1, 2)
    leftovers = [p for p in wav_8k.parent.iterdir() if p.name.startswith(".render-")]
    assert leftovers == []


def test_unspeakable_text_is_refused_before_synthesis(audio_settings, tmp_path):
    engine = CountingEngine(tmp_path / "markers")
    with pytest.raises(UnspeakableText) as caught:
        render("Kijk op www.politie.nl 🚓", audio_settings, engine)
    assert "internetadres" in caught.value.user_message
    with pytest.raises(PromptError, match="empty"):
        render(" \n\t ", audio_settings, engine)
    assert engine.runs == 0


def test_missing_engine_gives_a_clear_error_and_no_cache_entry(audio_settings):
    engine = EspeakEngine(binary="/nonexistent/espeak-ng")
    with pytest.raises(TtsError) as caught:
        render("Hallo", audio_settings, engine)
    assert "not found" in str(caught.value)
    assert "beheerder" in caught.value.user_message
    cache = audio_settings.audio_cache_dir
    assert not list(cache.rglob("*.json")) and not list(cache.rglob(".render-*"))


def test_silent_synthesis_is_an_error(audio_settings):
    with pytest.raises(AudioError, match="silent"):
        render("Stilte", audio_settings, SilentEngine())


def test_engine_from_settings(tmp_path):
    default = engine_from_settings(Settings(_env_file=None))
    assert isinstance(default, EspeakEngine) and default.voice in ("nl", "mb-nl2")
    model = tmp_path / "nl_NL-mls-medium.onnx"
    piper = engine_from_settings(Settings(_env_file=None, tts={"piper_model": model}))
    assert isinstance(piper, PiperEngine) and piper.voice == "nl_NL-mls-medium"
    with pytest.raises(TtsError, match="piper_model"):
        engine_from_settings(Settings(_env_file=None, tts={"engine": "piper"}))


def test_piper_engine_runs_the_piper_command_line(audio_settings, tmp_path):
    """A stand-in `piper` (espeak-ng behind Piper's command line) proves the contract:
    text on stdin, --model and --output_file arguments."""
    model = tmp_path / "nl_NL-test.onnx"
    model.write_bytes(b"model")
    fake = tmp_path / "piper"
    fake.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do case "$1" in --model) m="$2"; shift 2;; '
        '--output_file) o="$2"; shift 2;; *) shift;; esac; done\n'
        '[ -f "$m" ] || exit 3\n'
        'exec espeak-ng -v nl -w "$o" --stdin\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    prompt = render("Dit is een test van Piper.", audio_settings, PiperEngine(model, str(fake)))
    assert _wav_format(prompt.wav_8k)[:3] == (8000, 1, 2)
    assert prompt.duration_s > 1
    with pytest.raises(TtsError, match="does not exist"):
        render("Nog een test.", audio_settings, PiperEngine(tmp_path / "missing.onnx", str(fake)))


def test_twilio_say_attributes():
    settings = Settings(_env_file=None, twilio={"say_language": "nl-NL", "say_voice": "Polly.Ruben"})
    assert twilio_say_attributes(settings) == {"language": "nl-NL", "voice": "Polly.Ruben"}
    assert twilio_say_attributes(Settings(_env_file=None, twilio={"say_voice": ""})) == {"language": "nl-NL"}
