"""actions.start.start_action on its own: the norms confirmed with the draft, the confirmed
number of recipients, the supervisor rule, and what a refusal leaves behind (nothing)."""

from __future__ import annotations

import pytest
from actions_testing import MARKT
from sqlalchemy import func, select

from actions.drafts import save_draft
from actions.errors import ActionError, NormsNotMet, RecipientsChanged, SupervisorRequired
from actions.request import ActionRequest
from actions.start import start_action
from db.models import Action, ActionStatus, Delivery, Operator

CONFIRMED = {"urgent_recent": True, "clear_description": True}


def request(norms=None, radius_m=1500) -> ActionRequest:
    return ActionRequest(
        incident_type="vehicle",
        description={"vehicle_kind": "car", "colour": "red"},
        free_text="",
        lat=MARKT[0],
        lon=MARKT[1],
        location_label="Markt",
        radius_m=radius_m,
        channels=["voice"],
        norms=dict(norms or {}),
    )


def draft(s, rooms, settings, norms=None, radius_m=1500) -> Action:
    operator = s.get(Operator, rooms.centralist_id)
    action = save_draft(s, request(norms, radius_m), operator, rooms.room_id, settings)
    s.commit()
    return action


def deliveries(s, action) -> int:
    return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.action_id == action.id))


def test_the_norms_confirmed_with_the_draft_are_checked_at_the_start(db, rooms, population, clock, settings):
    with db.session() as s:
        centralist = s.get(Operator, rooms.centralist_id)
        action = draft(s, rooms, settings, norms={"urgent_recent": True})
        with pytest.raises(NormsNotMet) as refused:
            start_action(s, action, centralist, clock, settings)
        assert "duidelijk signalement" in refused.value.user_message
        s.rollback()
        assert action.status == ActionStatus.DRAFT and deliveries(s, action) == 0
        # Saving the draft again with the norms confirmed is what lets it start.
        save_draft(s, request(CONFIRMED), centralist, rooms.room_id, settings, action=action)
        s.commit()
        preview = start_action(s, action, centralist, clock, settings, expected_total=population)
        assert preview.total == population == deliveries(s, action)
        assert action.status == ActionStatus.RUNNING
        with pytest.raises(ActionError, match="not a draft"):
            start_action(s, action, centralist, clock, settings)


def test_the_confirmed_number_must_still_hold(db, rooms, population, clock, settings):
    with db.session() as s:
        action = draft(s, rooms, settings, CONFIRMED)
        with pytest.raises(RecipientsChanged) as refused:
            start_action(
                s,
                action,
                s.get(Operator, rooms.centralist_id),
                clock,
                settings,
                expected_total=population - 1,
            )
        assert f"({population - 1} → {population})" in refused.value.user_message
        s.rollback()
        assert deliveries(s, action) == 0


def test_an_empty_circle_does_not_start_even_with_override(db, rooms, clock, settings):
    with db.session() as s:
        action = draft(s, rooms, settings, CONFIRMED)
        with pytest.raises(ActionError) as refused:
            start_action(s, action, None, clock, settings, override=True)
        assert "geen deelnemers binnen de cirkel" in refused.value.user_message


def test_a_supervisor_starts_an_oversized_action_without_a_second_person(
    db, rooms, population, clock, settings
):
    settings.max_radius_without_supervisor_m = 1000
    with db.session() as s:
        action = draft(s, rooms, settings, CONFIRMED)
        with pytest.raises(SupervisorRequired):
            start_action(s, action, s.get(Operator, rooms.centralist_id), clock, settings)
        s.rollback()
        start_action(s, action, s.get(Operator, rooms.supervisor_id), clock, settings)
        assert action.supervisor_confirmed_by_id == rooms.supervisor_id
