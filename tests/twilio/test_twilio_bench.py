"""The Twilio webhook benchmark runs a small wave end to end and loses nothing."""

from __future__ import annotations

from bench.twilio import run_bench


def test_small_bench_wave_completes_every_call():
    result = run_bench(calls=6, concurrency=3, database_url="")
    assert result["errors"] == 0 and result["lost"] == 0
    assert result["webhooks"] == 6 * 7 and result["webhooks_per_s"] > 0
    assert result["database"] == "sqlite"
