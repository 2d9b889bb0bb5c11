from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from db.models import Municipality
from evaluation.export import report_csv
from evaluation.figures import EvaluationError, Scope, build_report
from evaluation.municipalities import MunicipalityImportError, import_municipalities, parse_rows
from tests.support.cli import cli_runner


def test_import_reports_bad_rows_and_is_idempotent(db):
    text = "gemeente;inwoners\nDelft;106.000\n;5\nRijswijk;veel\nDelft;3\nWassenaar;27000\n"
    with db.transaction() as s:
        report = import_municipalities(s, text)
    assert (report.created, report.updated) == (2, 0)
    assert [(e.row, e.field) for e in report.errors] == [(3, "gemeente"), (4, "inwoners"), (5, "gemeente")]
    with db.transaction() as s:
        again = import_municipalities(s, "municipality,population\nDelft,107000\nWassenaar,27000\n")
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    with db.session() as s:
        assert dict(s.execute(select(Municipality.name, Municipality.population)).all()) == {
            "Delft": 107000,
            "Wassenaar": 27000,
        }


@pytest.mark.parametrize("text", ["", "naam_x,aantal\nDelft,1\n"])
def test_unreadable_files_are_refused(text):
    with pytest.raises(MunicipalityImportError):
        parse_rows(text)


def test_scope_must_be_a_real_period():
    with pytest.raises(EvaluationError):
        Scope(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def test_csv_tables_have_headers_and_rows(db):
    with db.transaction() as s:
        import_municipalities(s, "gemeente,inwoners\nDelft,106000\n")
    with db.session() as s:
        report = build_report(s, Scope(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)))
    rows = list(csv.reader(io.StringIO(report_csv(report, "gemeenten", "Europe/Amsterdam")), delimiter=";"))
    assert rows == [
        ["gemeente", "deelnemers", "inwoners", "per_1000_inwoners"],
        ["Delft", "0", "106000", "0.00"],
    ]
    assert report_csv(report, "acties", "Europe/Amsterdam").startswith("actie;soort;afloop")
    with pytest.raises(ValueError):
        report_csv(report, "nonsense", "Europe/Amsterdam")


def test_cli_imports_the_demo_table_and_prints_csv(app):
    from evaluation.cli import evaluation_group

    app.extensions["burgernet.db"].upgrade()
    runner = cli_runner(app)
    result = runner.invoke(evaluation_group, ["import-municipalities"])
    assert result.exit_code == 0, result.output
    assert "9 created" in result.output
    result = runner.invoke(
        evaluation_group, ["report", "--from", "2026-11-01", "--to", "2026-12-01", "--table", "gemeenten"]
    )
    assert result.exit_code == 0, result.output
    assert "'s-Gravenhage;0;562000" in result.output
    bad = runner.invoke(evaluation_group, ["report", "--from", "2026-12-01", "--to", "2026-11-01"])
    assert bad.exit_code == 2
