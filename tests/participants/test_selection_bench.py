import json

from bench.select import (
    CITIES,
    DELFT_CENTRE,
    INDEX_IN_PLAN,
    bench_select,
    btree_sql,
    generate_population,
    index_used,
    postgis_reach_m,
    speedup,
    way_in,
)
from participants.selection import bounding_box
from tests.support.cli import cli_runner


def test_bench_select_runs_and_prints_one_json_line_last(app):
    result = cli_runner(app).invoke(
        bench_select, ["--participants", "3000", "--runs", "2", "--scan-runs", "1"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["participants"] == 3000 and figures["database"] == "sqlite"
    assert figures["selected"] > 0 and figures["median_ms"] > 0 and figures["scan_median_ms"] > 0
    assert set(figures) >= {
        "participants",
        "selected",
        "median_ms",
        "scan_median_ms",
        "speedup",
        "btree_median_ms",
        "speedup_vs_btree",
        "rtree_median_ms",
        "speedup_vs_rtree",
        "postgis",
    }
    # The baselines go in through their indexes (EXPLAIN), else their figures mean nothing.
    assert figures["btree_index_used"] is True, figures["btree_plan"]
    assert figures["rtree_index_used"] is True, figures["rtree_plan"]
    assert figures["postgis"].startswith("not available: ")
    assert "speedup_vs_postgis" not in figures


def test_generated_population_is_deterministic_and_clustered():
    first = next(generate_population(2000, seed=1, batch_size=5000))
    again = next(generate_population(2000, seed=1, batch_size=5000))
    assert first.addresses == again.addresses and first.phones == again.phones
    assert len(first.participants) == 2000 and len(first.addresses) > 2000
    towns = {row[7] for row in first.addresses}
    assert {"Amsterdam", "Rotterdam", "Delft"} <= towns and towns <= {c.name for c in CITIES}
    assert len({row[2] for row in first.phones}) < len(first.phones)  # households share a landline


SQLITE_BTREE = "SEARCH a USING INDEX ix_address_lat_lon (lat>? AND lat<?)"
SQLITE_SCAN = "SCAN a"
PG_BITMAP = (
    "->  Bitmap Index Scan on ix_address_lat_lon  (cost=0.00..31.15 rows=40 width=0)\n"
    "      Index Cond: ((lat >= 51.99))"
)
PG_SEQ = "->  Seq Scan on address a  (cost=0.00..9000.00 rows=13 width=36)"


def test_index_used_reads_both_databases_plans():
    assert index_used("btree", SQLITE_BTREE) and index_used("btree", PG_BITMAP)
    assert index_used("btree", "Index Scan using ix_address_lat_lon on address a")
    assert not index_used("btree", SQLITE_SCAN) and not index_used("btree", PG_SEQ)
    assert index_used("rtree", "SCAN r VIRTUAL TABLE INDEX 2:D1B0D3B2")
    assert not index_used("rtree", "SCAN r VIRTUAL TABLE INDEX 2:")  # unconstrained: a scan
    assert index_used("postgis", "Bitmap Index Scan on address_geography_gist")
    assert not index_used("postgis", PG_SEQ)
    assert set(INDEX_IN_PLAN) == {"btree", "rtree", "postgis"}


def test_way_in_keeps_the_access_to_address_without_costs():
    assert way_in(PG_BITMAP) == "Bitmap Index Scan on ix_address_lat_lon"
    assert way_in("MATERIALIZE near\n" + SQLITE_BTREE) == SQLITE_BTREE


def test_btree_query_is_a_range_on_the_indexed_columns_with_the_grids_circle_test():
    box = bounding_box(*DELFT_CENTRE, 2000)
    sql = btree_sql("sqlite", box, circle=True)
    assert "a.lat BETWEEN :south AND :north" in sql and "a.lon BETWEEN :west AND :east" in sql
    assert ":reach" in sql and "FROM address AS a" in sql
    assert ":reach" not in btree_sql("postgresql", box, circle=False)


def test_postgis_reach_covers_the_radius_with_a_margin():
    for radius in (1.0, 2000.0, 50_000.0):
        assert radius < postgis_reach_m(radius) <= radius * 1.002 + 1.0


def test_speedup_is_the_ratio_of_medians():
    assert speedup(300.0, 3.0) == 100.0
    assert speedup(5.0, 0.0) == 0.0
