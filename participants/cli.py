"""Command line of the registry: `burgernet participants ...` and `burgernet demo seed`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from config.clock import SystemClock
from db.runtime import current_db, current_settings
from evaluation.export import safe_rows
from participants.csv_files import CsvFileError, RowError, count_data_rows
from participants.demo import seed_demo
from participants.geocoding import geocoder_for, import_gazetteer
from participants.importer import import_participants

# Exit status of the imports (docs/participants-import.md).
EXIT_ROWS_REJECTED = 1  # the file was read; the valid rows are imported, some were rejected
EXIT_FILE_UNREADABLE = 2  # nothing imported: the file itself cannot be read
EXIT_IMPORT_FAILED = 3  # nothing imported: something else failed (the database, ...)

participants_group = click.Group("participants", help="The participant registry.")
demo_group = click.Group("demo", help="Demonstration data.")


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="rows", desc=desc, file=sys.stderr, leave=False)


def _write_report(path: Path, errors: list[RowError], warnings: list[RowError]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        rows: list[list[object]] = [["row", "field", "severity", "reason"]]
        for severity, entries in (("rejected", errors), ("warning", warnings)):
            rows.extend([entry.row, entry.field, severity, entry.reason] for entry in entries)
        writer.writerows(safe_rows(rows))


def _echo_problems(errors: list[RowError], warnings: list[RowError]) -> None:
    for entry in errors:
        click.echo(f"rejected: {entry}", err=True)
    for entry in warnings:
        click.echo(f"warning: {entry}", err=True)


@participants_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pdok/--no-pdok", default=False, help="Ask the PDOK Locatieserver for addresses the gazetteer lacks."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the row report as CSV.",
)
def import_command(csv_file: Path, pdok: bool, report_path: Path | None) -> None:
    """Import participants from CSV_FILE (layout: docs/participants-import.md).

    Exit status 0 when every row was accepted, 1 when any row was rejected (the others are
    imported), 2 when the file itself cannot be read, 3 when the import failed otherwise
    (nothing imported).
    """

    settings = current_settings()
    try:
        with (
            current_db().transaction() as session,
            _progress_bar(count_data_rows(csv_file), "importing") as bar,
        ):
            geocoder = geocoder_for(session, settings, pdok=pdok, direct_coordinates=True)
            report = import_participants(session, csv_file, geocoder, SystemClock(), bar.update)
    except CsvFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FILE_UNREADABLE)
    except Exception as exc:  # never mistaken for "rows rejected"; the transaction rolled back
        click.echo(f"error: import failed, nothing imported: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_IMPORT_FAILED)
    _echo_problems(report.errors, report.warnings)
    if report_path:
        _write_report(report_path, report.errors, report.warnings)
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected} rejected, {len(report.warnings)} address(es) without coordinates"
    )
    if not report.ok:
        sys.exit(EXIT_ROWS_REJECTED)


@participants_group.command("import-gazetteer")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_gazetteer_command(csv_file: Path) -> None:
    """Load a BAG address extract (postcode + house number -> coordinates) into the gazetteer.

    Exit status 1 when any row was rejected, 2 when the file cannot be read, 3 when the
    import failed otherwise.
    """

    try:
        with (
            current_db().transaction() as session,
            _progress_bar(count_data_rows(csv_file), "gazetteer") as bar,
        ):
            report = import_gazetteer(session, csv_file, bar.update)
    except CsvFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FILE_UNREADABLE)
    except Exception as exc:
        click.echo(f"error: import failed, nothing imported: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_IMPORT_FAILED)
    _echo_problems(report.errors, [])
    click.echo(
        f"{report.inserted} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected} rejected"
    )
    if report.errors:
        sys.exit(EXIT_ROWS_REJECTED)


@demo_group.command("seed")
@click.option("--participants", "count", default=3000, show_default=True, type=click.IntRange(0, 200_000))
def seed_command(count: int) -> None:
    """Create the demo world in Delft: control room, operator logins, gazetteer, participants.

    Seeding twice changes nothing; a larger --participants adds the missing ones.
    """

    with current_db().transaction() as session:
        summary = seed_demo(session, count, SystemClock())
    click.echo(
        f"demo: {summary.participants_added} participants added ({summary.participants_total} in total), "
        f"{summary.gazetteer_added} gazetteer addresses added, "
        f"operators {', '.join(summary.operators)} (password: burgernet-demo)"
    )
