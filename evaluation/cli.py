"""`burgernet evaluation ...`: municipality populations and the pilot's figures as CSV."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from config.local_time import start_of_day
from db.runtime import current_db, current_settings
from evaluation.export import TABLES, report_csv
from evaluation.figures import EvaluationError, Scope, build_report
from evaluation.municipalities import DEMO_FILE, MunicipalityImportError, import_municipalities

evaluation_group = click.Group(
    "evaluation", help="The pilot's evaluation figures and municipality populations."
)


@evaluation_group.command("import-municipalities")
@click.argument("csv_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_municipalities_command(csv_file: Path | None) -> None:
    """Import populations per municipality (columns gemeente,inwoners). Without a file: the
    Haaglanden demo table."""
    path = csv_file or DEMO_FILE
    try:
        with current_db().transaction() as s:
            report = import_municipalities(s, path.read_text(encoding="utf-8"))
    except MunicipalityImportError as exc:
        click.echo(f"{path}: {exc}", err=True)
        sys.exit(2)
    for error in report.errors:
        click.echo(f"{path}:{error.row}: {error.field}: {error.reason}", err=True)
    click.echo(
        f"municipalities: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} rejected"
    )
    sys.exit(1 if report.errors else 0)


def _date(value: str, tz: str):
    """The start of a local day (the control room's zone, settings.timezone), in UTC."""
    try:
        return start_of_day(date.fromisoformat(value), tz)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@evaluation_group.command("report")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD (local time).")
@click.option("--to", "end", required=True, help="Day after the last, YYYY-MM-DD (local time).")
@click.option("--control-room", type=int, default=None, help="Control room id.")
@click.option("--municipality", default=None)
@click.option("--table", type=click.Choice(TABLES), default="acties")
@click.option("--include-training", is_flag=True, help="Count training actions too.")
def report_command(start, end, control_room, municipality, table, include_training) -> None:
    """Print one table of the evaluation as CSV (moments in local time)."""
    tz = current_settings().timezone
    try:
        scope = Scope(_date(start, tz), _date(end, tz), control_room, municipality, include_training)
    except EvaluationError as exc:
        raise click.BadParameter(str(exc)) from None
    with current_db().session() as s:
        click.echo(report_csv(build_report(s, scope), table, tz), nl=False)
