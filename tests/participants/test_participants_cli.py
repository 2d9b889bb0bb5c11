import csv

from sqlalchemy import func, select

from db.models import ControlRoom, Operator, Participant, PhoneNumber, Role
from participants.cli import demo_group, participants_group
from participants.demo import demo_gazetteer, inside_delft
from tests.participants.test_importer import BAD, BAG, GOOD, write
from tests.support.cli import cli_runner


def test_import_command_reports_rows_and_sets_exit_status(app, db, tmp_path):
    bag = tmp_path / "bag.csv"
    bag.write_text(BAG, encoding="utf-8")
    runner = cli_runner(app)
    result = runner.invoke(participants_group, ["import-gazetteer", str(bag)])
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 0 unchanged, 0 rejected" in result.output

    good = write(tmp_path, GOOD, "good.csv")
    result = runner.invoke(participants_group, ["import", str(good)])
    assert result.exit_code == 0, result.output
    assert "4 created, 0 updated, 0 unchanged, 0 rejected, 1 address(es) without coordinates" in result.output
    assert "warning: row 4, home_postcode: kept without coordinates" in result.output

    mixed = write(tmp_path, GOOD + BAD, "mixed.csv")
    report = tmp_path / "report.csv"
    result = runner.invoke(participants_group, ["import", str(mixed), "--report", str(report)])
    assert result.exit_code == 1
    assert "0 created, 0 updated, 4 unchanged, 7 rejected" in result.output
    assert "rejected: row 6, birth_year: participants must be 16 or older" in result.output
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert {"row": "6", "field": "birth_year", "severity": "rejected"}.items() <= rows[0].items()

    broken = tmp_path / "broken.csv"
    broken.write_text("naam,adres\n", encoding="utf-8")
    result = runner.invoke(participants_group, ["import", str(broken)])
    assert result.exit_code == 2 and "missing column" in result.output


def test_demo_seed_is_deterministic_and_idempotent(app, db):
    runner = cli_runner(app)
    result = runner.invoke(demo_group, ["seed", "--participants", "300"])
    assert result.exit_code == 0, result.output
    assert "300 participants added (300 in total)" in result.output
    with db.session() as session:
        first = session.execute(
            select(
                Participant.external_ref, Participant.name, Participant.channels, Participant.status
            ).order_by(Participant.external_ref)
        ).all()
        room = session.scalars(select(ControlRoom)).one()
        assert (room.name, room.transfer_target) == ("Meldkamer Haaglanden", "+31703456789")
        operators = {o.username: o for o in session.scalars(select(Operator))}
        assert {u: o.role for u, o in operators.items()} == {
            "centralist": Role.CENTRALIST,
            "supervisor": Role.SUPERVISOR,
            "admin": Role.ADMIN,
        }
        from werkzeug.security import check_password_hash

        assert check_password_hash(operators["centralist"].password_hash, "burgernet-demo")
        assert session.scalar(select(func.count()).select_from(PhoneNumber).where(~PhoneNumber.verified)) == 0
        kinds = session.execute(select(PhoneNumber.kind, func.count()).group_by(PhoneNumber.kind)).all()
        assert len(kinds) == 2 and min(n for _, n in kinds) > 60  # a real mix of landline and mobile
        statuses = {s for *_, s in first}
        assert len(statuses) == 3  # active, paused and opted out all occur
    result = runner.invoke(demo_group, ["seed", "--participants", "300"])
    assert "0 participants added (300 in total), 0 gazetteer addresses added" in result.output
    assert db.count(Participant) == 300 and db.count(Operator) == 3
    runner.invoke(demo_group, ["seed", "--participants", "320"])
    with db.session() as session:
        again = session.execute(
            select(
                Participant.external_ref, Participant.name, Participant.channels, Participant.status
            ).order_by(Participant.external_ref)
        ).all()
    assert again[:300] == first and len(again) == 320


def test_demo_population_lives_in_delft():
    gazetteer = demo_gazetteer()
    assert len(gazetteer) > 3000
    assert all(inside_delft(row["lat"], row["lon"]) for row in gazetteer)
    postcodes = {row["postcode"][:4] for row in gazetteer}
    assert postcodes <= {str(n) for n in range(2611, 2630)} and len(postcodes) >= 15
    assert inside_delft(52.0116, 4.3571) and not inside_delft(52.0786, 4.2887)  # Delft, not Den Haag
