"""`burgernet bench fastagi` runs real calls through the server and prints one JSON line last."""

from __future__ import annotations

import json

from app import cli, create_app
from config.settings import Settings
from tests.support.cli import cli_runner


def test_bench_fastagi_small_run(tmp_path):
    settings = Settings(
        _env_file=None,
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        secret_key="test",
    )
    app = create_app(settings)
    try:
        result = cli_runner(app).invoke(
            cli,
            [
                "bench",
                "fastagi",
                "--calls",
                "10",
                "--concurrency",
                "5",
                "--prompt-ms",
                "0",
                "--cps",
                "0",
                "--callback-share",
                "0.3",
            ],
        )
    finally:
        app.extensions["burgernet.db"].dispose()
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert (figures["calls"], figures["alert_calls"], figures["callback_calls"]) == (10, 7, 3)
    assert (figures["completed"], figures["fallback"], figures["lost"]) == (10, 0, 0)
    assert 1 <= figures["max_active_calls"] <= 5
    assert figures["reply_gap_p95_ms"] <= figures["reply_gap_max_ms"]
