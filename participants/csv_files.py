"""Reading the CSV files people hand us, and reporting what was wrong with which row.

Every problem that belongs to one row is a `RowError` for that row, numbered by the line it
starts on (the header is line 1; a quoted value with line breaks makes a record span several
lines, and the rows after it keep their true line numbers): a byte that is text in neither
UTF-8 nor Windows-1252, a NUL byte, a value longer than `MAX_FIELD_CHARS`, a quote that is
never closed (the lines it swallowed are read again as rows of their own), more values than
columns. Only what makes the whole file unreadable is a `CsvFileError`: no header, a missing,
unknown or repeated column, a header that is not text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_FIELD_CHARS = 131_072  # the csv module's own limit, reported per row
_BOM = b"\xef\xbb\xbf"
_UNREADABLE = "\ufffd"  # what a byte undefined in Windows-1252 decodes to


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


def decode_line(raw: bytes) -> str:
    """UTF-8 when the line is valid UTF-8, else Windows-1252 (Excel on Dutch Windows); a byte
    that is neither (0x81, 0x8D, 0x8F, 0x90, 0x9D) becomes U+FFFD and rejects its row."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class _Lines:
    """The file's decoded lines, fed to csv.reader from a position that can be moved back."""

    def __init__(self, lines: list[str], position: int):
        self.lines = lines
        self.position = position

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _problem(values: list[str]) -> str | None:
    for value in values:
        if "\x00" in value:
            return "contains a NUL byte"
        if _UNREADABLE in value:
            return "contains a byte that is not a character in UTF-8 or Windows-1252"
    return None


def read_rows(
    path: Path | str, required: set[str], known: set[str]
) -> Iterator[tuple[int, dict[str, str], RowError | None]]:
    """Yield (line number, {column: value}, problem) with stripped values; `;` or `,` separated.

    `problem` is set (and the values empty) when the row cannot be read as a whole.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvFileError(f"cannot read {path}: {exc.strerror}") from exc
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    lines = [decode_line(line) for line in raw.splitlines(keepends=True)]
    if not lines or not lines[0].strip():
        raise CsvFileError(f"{path} is empty; expected a header row")
    first_line = lines[0]
    if _problem([first_line]):
        raise CsvFileError(f"{path}: the header row is not text")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        header = [h.strip().lower() for h in next(csv.reader([first_line], delimiter=delimiter, strict=True))]
    except csv.Error as exc:
        raise CsvFileError(f"{path}: the header row cannot be read ({exc})") from None
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        raise CsvFileError(f"{path}: column(s) named twice: {', '.join(repeated)}")
    missing = sorted(required - set(header))
    if missing:
        raise CsvFileError(f"{path}: missing column(s): {', '.join(missing)}")
    unknown = sorted(set(header) - known - {""})
    if unknown:
        raise CsvFileError(f"{path}: unknown column(s): {', '.join(unknown)}")

    source = _Lines(lines, 1)
    while source.position < len(lines):
        start = source.position
        number = start + 1  # line numbers count from 1
        try:
            values = next(csv.reader(source, delimiter=delimiter, strict=True))
        except StopIteration:
            return
        except csv.Error as exc:
            spanned = source.position - start
            if "field larger than field limit" in str(exc):
                reason = f"a value longer than {MAX_FIELD_CHARS} characters"
            elif spanned > 1 or "unexpected end of data" in str(exc):
                reason = f"a quote is not closed ({exc})"
            else:
                reason = f"cannot be read as CSV ({exc})"
            yield number, {}, RowError(number, "row", reason)
            # The lines a runaway quote swallowed are rows of their own: read them again.
            source = _Lines(lines, start + 1)
            continue
        if not any(v.strip() for v in values):
            continue
        problem = _problem(values)
        if problem is not None:
            yield number, {}, RowError(number, "row", problem)
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
