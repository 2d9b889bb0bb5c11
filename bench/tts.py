"""`burgernet bench tts`: render and convert a 60-word Dutch alert, uncached and cached."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import click

from db.runtime import current_settings
from prompts.audio import render
from prompts.spoken import word_count
from prompts.tts import engine_from_settings

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
    click.echo(
        json.dumps(
            {
                "words": word_count(BENCH_ALERT),
                "engine": engine.name,
                "voice": engine.voice,
                "audio_s": round(audio_s, 2),
                "render_ms": round(statistics.median(render_ms), 1),
                "render_ms_max": round(max(render_ms), 1),
                "cached_ms": round(statistics.median(cached_ms), 3),
                "runs": len(render_ms),
            }
        )
    )
