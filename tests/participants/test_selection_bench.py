import json

from bench.select import CITIES, bench_select, generate_population
from tests.support.cli import cli_runner


def test_bench_select_runs_and_prints_one_json_line_last(app):
    result = cli_runner(app).invoke(
        bench_select, ["--participants", "3000", "--runs", "2", "--scan-runs", "1"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["participants"] == 3000 and figures["database"] == "sqlite"
    assert figures["selected"] > 0 and figures["median_ms"] > 0 and figures["scan_median_ms"] > 0
    assert set(figures) >= {"participants", "selected", "median_ms", "scan_median_ms", "speedup"}


def test_generated_population_is_deterministic_and_clustered():
    first = next(generate_population(2000, seed=1, batch_size=5000))
    again = next(generate_population(2000, seed=1, batch_size=5000))
    assert first.addresses == again.addresses and first.phones == again.phones
    assert len(first.participants) == 2000 and len(first.addresses) > 2000
    towns = {row[7] for row in first.addresses}
    assert {"Amsterdam", "Rotterdam", "Delft"} <= towns and towns <= {c.name for c in CITIES}
    assert len({row[2] for row in first.phones}) < len(first.phones)  # households share a landline
