"""Malformed CSV files: every row-level problem is a row error on the line where the row
starts, the valid rows around it are imported, and only an unreadable file is a file error."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Participant
from participants.cli import EXIT_FILE_UNREADABLE, EXIT_ROWS_REJECTED, participants_group
from participants.csv_files import CsvFileError, read_rows
from participants.importer import KNOWN_COLUMNS, REQUIRED_COLUMNS
from tests.participants.test_importer import GOOD, HEADER, run_import
from tests.support.cli import cli_runner

R1, R2, R3 = (row.encode() for row in GOOD[:3])
R5 = b"r5,Kees Kok,1980,,0612345675,,voice,,ja,2611GW,5,,,,,,"


def write_bytes(tmp_path, *lines: bytes, name="deelnemers.csv"):
    path = tmp_path / name
    path.write_bytes(b"\n".join([HEADER.encode(), *lines]) + b"\n")
    return path


def refs(db) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Participant.external_ref)))


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (R5.replace(b"Kees", b"K\x81es"), "not a character in UTF-8 or Windows-1252"),
        (R5.replace(b"Kees", b"K" * 140_000), "a value longer than 131072 characters"),
        (R5.replace(b"Kees", b"K\x00es"), "contains a NUL byte"),
        (R5.replace(b"Kees Kok", b'"Kees Kok'), "a quote is not closed"),
        (R5.replace(b"Kees Kok", b'"Kees" Kok'), "cannot be read as CSV"),
    ],
    ids=["byte_0x81", "huge_field", "nul", "unbalanced_quote", "stray_quote"],
)
def test_a_bad_row_is_reported_on_its_line_and_the_others_are_imported(db, tmp_path, bad_line, reason):
    path = write_bytes(tmp_path, R1, bad_line, R2, R3)
    report = run_import(db, path)
    assert [(e.row, e.field) for e in report.errors] == [(3, "row")]
    assert reason in report.errors[0].reason
    assert report.created == 3
    assert refs(db) == {"r1", "r2", "r3"}


def test_windows_1252_text_is_read_line_by_line(db, tmp_path):
    path = write_bytes(
        tmp_path, R1, R5.replace(b"Kees", "José".encode("cp1252")), R2.replace(b"Anna", "Zoë".encode())
    )
    report = run_import(db, path)
    assert report.errors == [] and report.created == 3
    with db.session() as s:
        names = set(s.scalars(select(Participant.name)))
    assert {"José Kok", "Zoë Bakker"} <= names


def test_multi_line_records_keep_every_row_number_right(db, tmp_path):
    multi = R5.replace(b"Kees Kok", b'"Kees\nvan der\nKok"')  # lines 3-5
    too_young = b'r6,"Te\nJong",2015,,0612345670,,voice,,ja,2611GW,1,,,,,,'  # lines 6-7
    path = write_bytes(tmp_path, R1, multi, too_young, R5.replace(b"r5", b"r7").replace(b"2611GW", b"1"))
    report = run_import(db, path)
    assert [(e.row, e.field) for e in report.errors] == [(6, "birth_year"), (8, "home_postcode")]
    assert refs(db) == {"r1", "r5"}


def test_a_quote_left_open_to_the_end_swallows_no_row(db, tmp_path):
    path = write_bytes(tmp_path, R1, R5.replace(b"Kees Kok", b'"Kees Kok'), R2, R3)
    rows = list(read_rows(path, REQUIRED_COLUMNS, KNOWN_COLUMNS))
    assert [(n, p.row if p else None) for n, _, p in rows] == [(2, None), (3, 3), (4, None), (5, None)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + ",name\nr1,Jan,1960", "named twice: name"),
        ("", "empty"),
        ("\x81" + HEADER, "not text"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_file_error(tmp_path, content, message):
    path = tmp_path / "f.csv"
    path.write_bytes(content.encode("utf-8", errors="surrogateescape").replace(b"\xc2\x81", b"\x81"))
    with pytest.raises(CsvFileError, match=message):
        list(read_rows(path, REQUIRED_COLUMNS, KNOWN_COLUMNS))


def test_exit_status_tells_rejected_rows_from_an_unreadable_file(app, db, tmp_path):
    runner = cli_runner(app)
    mixed = write_bytes(
        tmp_path,
        R1,
        R5.replace(b"Kees", b"K\x81es"),
        R2,
        R5.replace(b"Kees", b"K" * 140_000).replace(b"r5", b"r8"),
        b"r9,Geen Adres,1980,,0612345674,,voice,,ja,,,,,,,,",
        R3,
        name="mixed.csv",
    )
    report = tmp_path / "report.csv"
    result = runner.invoke(participants_group, ["import", str(mixed), "--report", str(report)])
    assert result.exit_code == EXIT_ROWS_REJECTED, result.output
    assert "3 created, 0 updated, 0 unchanged, 3 rejected" in result.output
    assert "rejected: row 3, row: contains a byte" in result.output
    assert "rejected: row 5, row: a value longer than 131072 characters" in result.output
    assert "Traceback" not in result.output
    assert refs(db) == {"r1", "r2", "r3"}

    twice = tmp_path / "twice.csv"
    twice.write_text(HEADER + ",name\n", encoding="utf-8")
    result = runner.invoke(participants_group, ["import", str(twice)])
    assert result.exit_code == EXIT_FILE_UNREADABLE
    assert "named twice" in result.output
