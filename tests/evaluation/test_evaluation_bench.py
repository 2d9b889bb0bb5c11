import json

from click.testing import CliRunner

from bench.evaluation import bench_evaluation


def test_bench_prints_one_json_line_with_the_figures():
    result = CliRunner().invoke(
        bench_evaluation, ["--actions", "6", "--deliveries", "10", "--participants", "40", "--runs", "1"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert (figures["actions"], figures["deliveries"], figures["database"]) == (6, 60, "sqlite")
    assert 0 < figures["participants_reached"] <= 60 and figures["median_report_s"] >= 0
