"""`burgernet action start` goes through the one start function: the Burgernet norms, the
supervisor rule above the limits, and an audited --override for scripted drills."""

from __future__ import annotations

import json

from actions_testing import MARKT
from sqlalchemy import select

from app import cli
from db.models import Action, ActionStatus, AuditEvent

NORMS = ["--urgent-recent", "--clear-description"]


def start(runner, *extra: str, incident="vehicle", description='{"vehicle_kind": "car", "colour": "red"}'):
    return runner.invoke(
        cli,
        args=[
            "action",
            "start",
            "--lat",
            str(MARKT[0]),
            "--lon",
            str(MARKT[1]),
            "--radius",
            "1500",
            "--type",
            incident,
            "--description",
            description,
            "--operator",
            "centralist",
            *extra,
        ],
    )


def audit_events(db, event: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def test_cli_refuses_a_start_without_the_norms(runner, db, rooms, population):
    refused = start(runner)
    assert refused.exit_code == 1
    assert "Burgernet-normen" in refused.output and "zojuist" in refused.output
    only_one = start(runner, "--urgent-recent")
    assert only_one.exit_code == 1 and "duidelijk signalement" in only_one.output
    assert db.count(Action) == 0  # nothing saved, nothing sent
    started = start(runner, *NORMS)
    assert started.exit_code == 0, started.output
    assert json.loads(started.output)["deliveries"] == population


def test_cli_asks_family_consent_for_a_missing_person(runner, db, rooms, population):
    child = dict(incident="missing_child", description='{"age": 8, "clothing": "gele jas"}')
    refused = start(runner, *NORMS, **child)
    assert refused.exit_code == 1 and "familie heeft toestemming" in refused.output
    assert start(runner, *NORMS, "--family-consent", **child).exit_code == 0


def test_cli_start_above_the_limits_needs_a_supervisor_of_the_room(runner, db, rooms, population, settings):
    settings.max_recipients_without_supervisor = 5
    refused = start(runner, *NORMS)
    assert refused.exit_code == 1 and "een supervisor moet bevestigen" in refused.output
    not_one = start(runner, *NORMS, "--supervisor", "centralist")
    assert not_one.exit_code == 1 and "Alleen een supervisor van deze meldkamer" in not_one.output
    elsewhere = start(runner, *NORMS, "--supervisor", "elders")
    assert elsewhere.exit_code == 1 and "Alleen een supervisor van deze meldkamer" in elsewhere.output
    unknown = start(runner, *NORMS, "--supervisor", "nobody")
    assert unknown.exit_code == 1 and "no operator 'nobody'" in unknown.output
    assert db.count(Action) == 0

    confirmed = start(runner, *NORMS, "--supervisor", "supervisor")
    assert confirmed.exit_code == 0, confirmed.output
    action_id = json.loads(confirmed.output)["action_id"]
    with db.session() as s:
        action = s.get(Action, action_id)
        assert action.status == ActionStatus.RUNNING
        assert action.supervisor_confirmed_by_id == rooms.supervisor_id
        assert action.started_by_id == rooms.centralist_id
    [event] = audit_events(db, "action.supervisor_confirmed")
    assert event.operator_id == rooms.supervisor_id and event.target_id == action_id


def test_override_starts_a_drill_and_leaves_an_audit_row(runner, db, rooms, population, settings):
    settings.max_radius_without_supervisor_m = 1000
    result = start(runner, "--override")
    assert result.exit_code == 0, result.output
    started = json.loads(result.output)
    assert started["override"] is True and started["deliveries"] == population
    [event] = audit_events(db, "action.rules_overridden")
    assert event.target_id == started["action_id"] and event.operator_id == rooms.centralist_id
    assert event.detail["missing_norms"] == ["urgent_recent", "clear_description"]
    assert event.detail["supervisor_required"] is True
    assert audit_events(db, "action.supervisor_confirmed") == []
    with db.session() as s:
        assert s.get(Action, started["action_id"]).supervisor_confirmed_by_id is None


def test_cli_validates_like_the_form(runner, db, rooms, population):
    outside = runner.invoke(
        cli,
        args=[
            "action",
            "start",
            "--lat",
            "40.0",
            "--lon",
            "4.3",
            "--type",
            "vehicle",
            "--description",
            '{"colour": "red"}',
            *NORMS,
        ],
    )
    assert outside.exit_code == 1 and "buiten Nederland" in outside.output
    markup = start(runner, *NORMS, description='{"colour": "<b>rood</b>"}')
    assert markup.exit_code == 1 and "niet-toegestane tekens" in markup.output
    assert db.count(Action) == 0


def test_cli_updates_and_widens_a_running_action(runner, db, rooms, population):
    started = start(runner, *NORMS, "--channels", "voice")
    assert started.exit_code == 0, started.output
    action_id = json.loads(started.output.strip().splitlines()[-1])["action_id"]
    base = ["--id", str(action_id), "--operator", "centralist"]
    same = runner.invoke(cli, args=["action", "update", *base])
    assert same.exit_code != 0 and "niets nieuws" in same.output
    updated = runner.invoke(
        cli, args=["action", "update", *base, "--free-text", "Gezien richting het station."]
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output.strip().splitlines()[-1])["revision"] == 1
    widened = runner.invoke(cli, args=["action", "area", *base, "--radius", "1500"])
    assert widened.exit_code != 0 and "voegt niemand toe" in widened.output  # all ten already asked
    with db.session() as s:
        assert "Gezien richting het station" in s.get(Action, action_id).voice_text
