"""CSV export of an evaluation report: one table per file, Dutch headers, ';' for Excel NL;
moments in the control room's local time (config.local_time), as the pages show them.

"bereikt" counts who heard the message (or got the SMS or email); "opgenomen" who picked up
(or was sent the message), heard or not: the figure "bereikt" was before."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from config.local_time import format_moment
from evaluation.figures import Report

TABLES = ("acties", "kanalen", "gemeenten", "groei")
# A spreadsheet reads a cell that starts with one of these as a formula (or, for tab and CR,
# may shift it into one): `=HYPERLINK(...)` in a participant's city would run when opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would read a formula.

    The usual neutralisation (OWASP "CSV injection"): Excel and LibreOffice show the value
    as typed, the apostrophe itself is not shown. Applied to every exported cell.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_rows(rows: Iterable[Iterable[object]]) -> Iterator[list[str]]:
    for row in rows:
        yield [spreadsheet_safe(cell) for cell in row]


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _rows(report: Report, table: str, tz: str) -> tuple[list[str], list[list]]:
    if table == "acties":
        header = [
            "actie",
            "soort",
            "afloop",
            "meldkamer",
            "gemeente",
            "gestart",
            "beëindigd",
            "deelnemers",
            "bereikt",
            "opgenomen",
            "bevestigd",
            "meldingen",
            "eerste_melding_s",
            "direct_resultaat",
            "vervolgberichten",
            "vervolgbericht_ontvangers",
            "cirkel_gewijzigd",
            "toegevoegd_door_wijziging",
        ]
        rows = [
            [
                a.id,
                a.incident_type,
                a.outcome,
                a.control_room,
                a.municipality,
                format_moment(a.started_at, tz, "export"),
                format_moment(a.ended_at, tz, "export") if a.ended_at else "",
                a.people.recipients,
                a.people.reached,
                a.people.answered,
                a.people.acknowledged,
                a.sightings,
                "" if a.first_sighting_s is None else f"{a.first_sighting_s:.0f}",
                "ja" if a.direct_result else "nee",
                a.changes.updates,
                a.changes.update_recipients,
                a.changes.area_changes,
                a.changes.recipients_added,
            ]
            for a in report.actions
        ]
    elif table == "kanalen":
        header = [
            "kanaal",
            "soort_nummer",
            "ontvangers",
            "bereikt",
            "opgenomen",
            "bevestigd",
            "bereikt_aandeel",
            "bevestigd_aandeel",
        ]
        rows = [
            [
                c.channel,
                c.phone_kind,
                c.counts.recipients,
                c.counts.reached,
                c.counts.answered,
                c.counts.acknowledged,
                _rate(c.answer_rate),
                _rate(c.acknowledge_rate),
            ]
            for c in report.channels
        ]
    elif table == "gemeenten":
        header = ["gemeente", "deelnemers", "inwoners", "per_1000_inwoners"]
        rows = [
            [
                c.municipality,
                c.participants,
                "" if c.population is None else c.population,
                "" if c.per_thousand is None else f"{c.per_thousand:.2f}",
            ]
            for c in report.coverage
        ]
    elif table == "groei":
        header = ["gemeente", "maand", "nieuw", "totaal"]
        rows = [[g.municipality, g.month, g.new, g.total] for g in report.growth]
    else:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return header, rows


def report_csv(report: Report, table: str, tz: str) -> str:
    """One table as CSV; `tz` (settings.timezone) is the zone its moments are written in."""
    header, rows = _rows(report, table, tz)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(safe_rows([header, *rows]))
    return out.getvalue()
