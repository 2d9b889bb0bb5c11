"""Formula injection: a participant's city such as `=HYPERLINK(...)` must reach a spreadsheet
as text, in every export and in the import's row report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from db.models import Address, AddressKind, ControlRoom, GeocodeStatus, Operator, Participant, Role
from evaluation.export import TABLES, report_csv, spreadsheet_safe
from evaluation.figures import Scope, build_report

FORMULA = '=HYPERLINK("http://evil.example/x","x")'
NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (FORMULA, "'" + FORMULA),
        ("+31 15 2158000", "'+31 15 2158000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Delft", "Delft"),
        ("a=b", "a=b"),
        (12, "12"),
        (None, ""),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_evaluate_get_an_apostrophe(value, expected):
    assert spreadsheet_safe(value) == expected


def _participant_in(db, city: str) -> None:
    with db.transaction() as s:
        s.add(
            Participant(
                name="Deelnemer",
                birth_year=1970,
                channels=["voice"],
                created_at=datetime(2026, 11, 5, tzinfo=UTC),
                addresses=[
                    Address(
                        kind=AddressKind.HOME,
                        postcode="2611AB",
                        house_number=1,
                        municipality=city,
                        lat=52.01,
                        lon=4.36,
                        geocode_status=GeocodeStatus.OK,
                    )
                ],
            )
        )


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]


def test_a_formula_city_is_text_in_every_table(db):
    _participant_in(db, FORMULA)
    with db.session() as s:
        report = build_report(s, Scope(NOV, DEC))
    growth = list(csv.reader(io.StringIO(report_csv(report, "groei", "Europe/Amsterdam")), delimiter=";"))
    assert growth[1] == ["'" + FORMULA, "2026-11", "1", "1"]
    coverage = list(
        csv.reader(io.StringIO(report_csv(report, "gemeenten", "Europe/Amsterdam")), delimiter=";")
    )
    assert coverage[1][0] == "'" + FORMULA
    for table in TABLES:
        cells = _cells(report_csv(report, table, "Europe/Amsterdam"))
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], table


def test_the_web_export_serves_the_neutralised_cell(app, db, client, clock):
    app.extensions["burgernet.clock"] = clock
    _participant_in(db, FORMULA)
    with db.transaction() as s:
        s.add(ControlRoom(name="Meldkamer Haaglanden", region="Haaglanden", transfer_target="+31701234567"))
        s.flush()
        room = s.scalar(select(ControlRoom))
        supervisor = Operator(
            username="super",
            display_name="super",
            role=Role.SUPERVISOR,
            control_room_id=room.id,
            password_hash=generate_password_hash("geheim-wachtwoord"),
        )
        s.add(supervisor)
        s.flush()
        supervisor_id = supervisor.id
    with client.session_transaction() as sess:
        sess["_user_id"] = str(supervisor_id)  # where Flask-Login keeps the operator's id
        sess["logged_in_at"] = sess["last_seen"] = clock.now().isoformat()
    for table in ("gemeenten", "groei"):
        response = client.get(f"/evaluatie/export/{table}.csv?van=2026-11-01&tot=2026-11-30")
        assert response.status_code == 200, table
        body = response.get_data(as_text=True).lstrip("\ufeff")
        assert ("'" + FORMULA.replace('"', '""')) in body, table
        assert not [c for c in _cells(body) if c.startswith("=")], table
