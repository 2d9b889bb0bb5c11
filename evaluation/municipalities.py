"""Import of municipality populations (for participants per inhabitant in recruitment).

CSV layout, UTF-8, comma or semicolon separated, with a header row:
    gemeente,inwoners          (the English names municipality,population work too)
    Delft,107000
One row per municipality; the name must be spelled as the addresses have it (the BAG spells
The Hague "'s-Gravenhage"). Importing again updates the populations; nothing is duplicated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Municipality

NAME_COLUMNS = ("gemeente", "municipality", "naam", "name")
POPULATION_COLUMNS = ("inwoners", "population", "bevolking")
DEMO_FILE = Path(__file__).resolve().parent / "data" / "municipalities_haaglanden.csv"


class MunicipalityImportError(ValueError):
    """The file cannot be read as a municipality table at all."""


@dataclass(frozen=True)
class RowError:
    row: int  # line number in the file, header = 1
    field: str
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def _column(header: Sequence[str], choices: tuple[str, ...]) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for choice in choices:
        if choice in lowered:
            return lowered[choice]
    raise MunicipalityImportError(f"no column named one of {', '.join(choices)} in the header")


def parse_rows(text: str) -> tuple[list[tuple[int, str, int]], list[RowError]]:
    """Pure: the (line, name, population) rows and the rejected rows of a CSV text."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise MunicipalityImportError("the file is empty")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    name_col = _column(reader.fieldnames or [], NAME_COLUMNS)
    pop_col = _column(reader.fieldnames or [], POPULATION_COLUMNS)
    rows, errors, seen = [], [], set()
    for record in reader:
        line = reader.line_num
        name = (record.get(name_col) or "").strip()
        raw = (record.get(pop_col) or "").strip().replace(".", "").replace(" ", "")
        if not name:
            errors.append(RowError(line, name_col, "empty municipality name"))
            continue
        if name.lower() in seen:
            errors.append(RowError(line, name_col, f"{name} appears twice"))
            continue
        if not raw.isdigit() or int(raw) <= 0:
            errors.append(RowError(line, pop_col, f"population {raw!r} is not a positive whole number"))
            continue
        seen.add(name.lower())
        rows.append((line, name, int(raw)))
    return rows, errors


def import_municipalities(session: Session, text: str) -> ImportReport:
    rows, errors = parse_rows(text)
    report = ImportReport(errors=errors)
    existing = {m.name: m for m in session.scalars(select(Municipality))}
    for _line, name, population in rows:
        current = existing.get(name)
        if current is None:
            session.add(Municipality(name=name, population=population))
            report.created += 1
        elif current.population != population:
            current.population = population
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report
