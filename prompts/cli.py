"""`burgernet prompts ...` commands and the `burgernet bench tts` benchmark."""
from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from config.runtime import current_settings
from prompts.audio import render
from prompts.errors import PromptError
from prompts.ivr_prompts import ivr_prompt_audio, recording_path, static_prompt_keys
from prompts.messages import compose_alert
from prompts.spoken import word_count
from prompts.tts import engine_from_settings

prompts_group = AppGroup("prompts", help="Dutch messages, text-to-speech and IVR prompt audio.")


def _fail(error: PromptError) -> click.ClickException:
    return click.ClickException(f"{error} ({error.user_message})")


@prompts_group.command("say")
@click.argument("text")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="WAV file to write.")
@click.option("--web", is_flag=True, help="Write the full-rate web version instead of 8 kHz telephony audio.")
def say(text: str, output: Path, web: bool) -> None:
    """Speak TEXT (Dutch) and write it as 8 kHz mono 16-bit WAV (or --web)."""
    try:
        rendered = render(text, current_settings())
    except PromptError as error:
        raise _fail(error) from None
    shutil.copyfile(rendered.web if web else rendered.wav_8k, output)
    click.echo(f"{output}: {rendered.duration_s:.2f} s{' (cached)' if rendered.cached else ''}")
    click.echo(f"spoken text: {rendered.text}")


@prompts_group.command("render-ivr")
def render_ivr() -> None:
    """Render every fixed IVR prompt (recorded replacements win) into the audio cache."""
    settings = current_settings()
    try:
        for key in static_prompt_keys():
            rendered = ivr_prompt_audio(key, settings)
            source = "opname" if recording_path(key, settings).exists() else "tts"
            click.echo(f"{key:28} {source:6} {rendered.duration_s:6.2f} s  {rendered.asterisk_name}")
    except PromptError as error:
        raise _fail(error) from None


@prompts_group.command("compose")
@click.argument("incident_type")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
              help="A description field, e.g. --field gender=male --field age=20-25.")
@click.option("--free-text", default="", help="Additional free text from the centralist.")
def compose(incident_type: str, fields: tuple[str, ...], free_text: str) -> None:
    """Print the alert for every channel, from description fields."""
    description = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--field")
        description[name] = value
    try:
        message = compose_alert(incident_type, description, free_text,
                                current_settings().callback_number)
    except PromptError as error:
        raise _fail(error) from None
    click.echo(f"STEM:    {message.voice}")
    click.echo(f"TEKST:   {message.display}")
    click.echo(f"SMS:     {message.sms}  [{len(message.sms)} tekens, {message.sms_encoding}, "
               f"{message.sms_segments} deel/delen]")
    click.echo(f"E-MAIL:  {message.email_subject}")


# A 60-word Dutch alert, in the shape of the real script.
BENCH_ALERT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer 25 jaar. "
    "Hij is ongeveer 1,80 m lang en heeft een slank postuur. Hij heeft kort zwart haar. "
    "Hij draagt een blauwe jas en een spijkerbroek. Hij is op een fiets gevlucht in de "
    "richting van het station. Ziet u deze persoon, bel dan gratis 0800-0011."
)


@click.command("tts")
@click.option("--runs", default=3, show_default=True, help="Uncached renders (median reported).")
@click.option("--lookups", default=50, show_default=True, help="Cached look-ups (median reported).")
@with_appcontext
def bench_tts(runs: int, lookups: int) -> None:
    """Render and convert a 60-word Dutch alert; print one JSON line last."""
    settings = current_settings()
    engine = engine_from_settings(settings)
    render_ms: list[float] = []
    cached_ms: list[float] = []
    audio_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as scratch:
        for run in range(max(1, runs)):
            # A fresh cache per run, so every run really renders.
            run_settings = settings.model_copy(update={"instance_path": Path(scratch) / str(run)})
            started = time.perf_counter()
            rendered = render(BENCH_ALERT, run_settings, engine)
            render_ms.append((time.perf_counter() - started) * 1000)
            audio_s = rendered.duration_s
            for _ in range(max(1, lookups) if run == 0 else 0):
                started = time.perf_counter()
                hit = render(BENCH_ALERT, run_settings, engine)
                cached_ms.append((time.perf_counter() - started) * 1000)
                if not hit.cached:
                    raise click.ClickException("the second render was not served from the cache")
    click.echo(json.dumps({
        "words": word_count(BENCH_ALERT),
        "engine": engine.name,
        "voice": engine.voice,
        "audio_s": round(audio_s, 2),
        "render_ms": round(statistics.median(render_ms), 1),
        "render_ms_max": round(max(render_ms), 1),
        "cached_ms": round(statistics.median(cached_ms), 3),
        "runs": len(render_ms),
    }))
