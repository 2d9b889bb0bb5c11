"""Reading the CSV files people hand us, and reporting what was wrong with which row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RowError:
    """One reason a row was rejected (or an address was kept without coordinates)."""

    row: int  # line number in the file; the header is row 1
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


class CsvFileError(ValueError):
    """The file as a whole cannot be read (missing, wrong columns, not text)."""


def read_rows(
    path: Path | str, required: set[str], known: set[str]
) -> Iterator[tuple[int, dict[str, str], RowError | None]]:
    """Yield (row number, {column: value}, problem) with stripped values; `;` or `,` separated.

    `problem` is set when the row cannot be split into the header's columns.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("cp1252")  # Excel on Dutch Windows
    first_line = content.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvFileError(f"{path} is empty; expected a header row") from None
    missing = sorted(required - set(header))
    if missing:
        raise CsvFileError(f"{path}: missing column(s): {', '.join(missing)}")
    unknown = sorted(set(header) - known - {""})
    if unknown:
        raise CsvFileError(f"{path}: unknown column(s): {', '.join(unknown)}")
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            too_many = RowError(number, "row", f"{len(values)} values for {len(header)} columns")
            yield number, {}, too_many
            continue
        row = {name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header)}
        yield number, row, None


def count_data_rows(path: Path | str) -> int:
    with open(path, "rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)
