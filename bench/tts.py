"""`burgernet bench tts`: render and convert a 60-word Dutch alert, uncached and cached; and
the time free-text normalisation (prompts.spoken) takes per description over the corpus of
centralists' texts, beside a baseline measured in the same process."""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import click

from config.settings import PROJECT_ROOT
from db.runtime import current_settings
from prompts.audio import render
from prompts.spoken import clean_text, number_words, to_spoken, word_count
from prompts.tts import engine_from_settings

# The free-text corpus (issue 16): what centralists type, with the spoken form it must become.
CORPUS = PROJECT_ROOT / "tests" / "prompts" / "free_text_corpus.tsv"
NORMALISE_GOAL_MS = 2.0  # median per description
_NUMBER = re.compile(r"\d+")

# A 60-word Dutch alert, in the shape of the real script.
BENCH_ALERT = (
    "Hier volgt een oproep van Burgernet. Wilt u uitkijken naar een man van ongeveer 25 jaar. "
    "Hij is ongeveer 1,80 m lang en heeft een slank postuur. Hij heeft kort zwart haar. "
    "Hij draagt een blauwe jas en een spijkerbroek. Hij is op een fiets gevlucht in de "
    "richting van het station. Ziet u deze persoon, bel dan gratis 0800-0011."
)


def corpus_texts(path: Path = CORPUS) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def _baseline(text: str) -> str:
    """The least a TTS front end does: every digit run as a number in words, one regex pass.
    Our normalisation's cost is read against it (same texts, same process, same rounds)."""
    return _NUMBER.sub(lambda m: number_words(int(m.group(0)[:9])), text)


def _normalised(text: str) -> str:
    return to_spoken(clean_text(text))


def time_per_text(function, texts: list[str], rounds: int) -> list[float]:
    """Microseconds per text: the median over `rounds` rounds, each text timed on its own."""
    per_text: list[list[float]] = [[] for _ in texts]
    for _ in range(rounds):
        for index, text in enumerate(texts):
            started = time.perf_counter_ns()
            function(text)
            per_text[index].append((time.perf_counter_ns() - started) / 1000)
    return [statistics.median(samples) for samples in per_text]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def normalisation_figures(texts: list[str], rounds: int) -> dict:
    for text in texts:  # warm up: compiled patterns, caches
        _normalised(text)
        _baseline(text)
    ours = time_per_text(_normalised, texts, rounds)
    base = time_per_text(_baseline, texts, rounds)
    median_us = statistics.median(ours)
    return {
        "descriptions": len(texts),
        "normalise_rounds": rounds,
        "normalise_median_us": round(median_us, 1),
        "normalise_p95_us": round(_p95(ours), 1),
        "normalise_max_us": round(max(ours), 1),
        "baseline_median_us": round(statistics.median(base), 1),
        "baseline_p95_us": round(_p95(base), 1),
        "normalise_vs_baseline": round(median_us / max(statistics.median(base), 0.001), 1),
        "normalise_goal_ms": NORMALISE_GOAL_MS,
        "normalise_goal_met": median_us / 1000 < NORMALISE_GOAL_MS,
    }


@click.command("tts")
@click.option("--runs", default=3, show_default=True, help="Uncached renders (median reported).")
@click.option("--lookups", default=50, show_default=True, help="Cached look-ups (median reported).")
@click.option(
    "--rounds", default=20, show_default=True, help="Rounds over the free-text corpus (median per text)."
)
def bench_tts(runs: int, lookups: int, rounds: int) -> None:
    """Render and convert a 60-word Dutch alert, and normalise the free-text corpus; print one
    JSON line last."""
    normalisation = normalisation_figures(corpus_texts(), max(1, rounds))
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
                **normalisation,
            }
        )
    )
