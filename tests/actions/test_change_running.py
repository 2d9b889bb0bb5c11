"""actions.change on a running action: an update (vervolgbericht) for the reached with the new
text for the rest, a wider or moved circle that adds only new participants, the supervisor
rule on the totals after the change, and the history and audit each leaves."""

from __future__ import annotations

import pytest
from actions_testing import MARKT
from sqlalchemy import select, update

from actions.change import change_area, send_update
from actions.drafts import save_draft
from actions.end import end_action
from actions.errors import ActionError, InvalidActionRequest, SupervisorRequired
from actions.figures import figures
from actions.request import ActionRequest
from actions.start import start_action
from db.models import (
    ActionRevision,
    AuditEvent,
    Delivery,
    DeliveryKind,
    DeliveryState,
    MessageHeard,
    Operator,
    RevisionKind,
)
from deliveries.message_texts import MessageComposer
from ivr.flow import CallEnv, Engine, Input, walk
from ivr.outcome_flow import OUTCOME_FLOW
from web.console.changing import revision_history

CONFIRMED = {"urgent_recent": True, "clear_description": True, "family_consent": True}
DESCRIPTION = {"gender": "male", "age": "7", "clothing": "een blauwe jas"}


def start(s, rooms, settings, clock, radius_m=500):
    """A missing child around the Markt, radius 500 m: participants 0-4 of the population."""
    operator = s.get(Operator, rooms.centralist_id)
    request = ActionRequest(
        incident_type="missing_child",
        description=dict(DESCRIPTION),
        free_text="",
        lat=MARKT[0],
        lon=MARKT[1],
        location_label="Markt 1, Delft",
        radius_m=radius_m,
        channels=["voice"],
        norms=CONFIRMED,
    )
    action = save_draft(s, request, operator, rooms.room_id, settings)
    s.commit()
    start_action(s, action, operator, clock, settings)
    return action


def alert_targets(s, action) -> list[str]:
    return list(
        s.scalars(
            select(Delivery.target)
            .where(Delivery.action_id == action.id, Delivery.kind == DeliveryKind.ALERT)
            .order_by(Delivery.target)
        )
    )


def test_an_update_reaches_the_reached_and_gives_the_rest_the_new_text(
    db, rooms, population, clock, settings
):
    with db.session() as s:
        action = start(s, rooms, settings, clock)
        assert "voor de omgeving Delft, rond de Markt" in action.voice_text
        reached, heard_nothing = alert_targets(s, action)[:2], alert_targets(s, action)[2]
        s.execute(
            update(Delivery)
            .where(Delivery.action_id == action.id, Delivery.target.in_(reached))
            .values(state=DeliveryState.COMPLETED)
        )
        # Answered and hung up before the message: no update of an alert never heard.
        s.execute(
            update(Delivery)
            .where(Delivery.action_id == action.id, Delivery.target == heard_nothing)
            .values(state=DeliveryState.COMPLETED, heard=MessageHeard.NONE)
        )
        s.commit()
        centralist = s.get(Operator, rooms.centralist_id)

        revision = send_update(
            s,
            action,
            centralist,
            DESCRIPTION | {"clothing": "een rode jas"},
            "Gezien richting het station.",
            clock,
            settings,
        )
        assert (revision.number, revision.kind) == (1, RevisionKind.UPDATE)
        assert (revision.updates_queued, revision.pending_with_new_text) == (2, 2)
        updates = s.scalars(
            select(Delivery).where(Delivery.action_id == action.id, Delivery.kind == DeliveryKind.UPDATE)
        ).all()
        assert sorted(d.target for d in updates) == reached
        assert {d.revision for d in updates} == {1}
        # The rest hear the whole new alert; the reached a short update of what is new.
        assert "rode jas" in action.voice_text and "blauwe jas" not in action.voice_text
        spoken = MessageComposer(settings, clock).follow_up_voice_text(action, DeliveryKind.UPDATE, 1)
        assert spoken.startswith(
            "Hier volgt een aanvulling van Burgernet op de eerdere oproep voor de omgeving"
        )
        assert "rode jas" in spoken and "Gezien richting het station" in spoken and "zeven jaar" not in spoken
        # The update call speaks it (the short outcome flow, on Asterisk and Twilio alike).
        env = CallEnv(session=s, clock=clock, settings=settings, provider="test")
        turns = walk(
            Engine(OUTCOME_FLOW), env, {"delivery_id": updates[0].id}, [Input.done(), Input.timeout()]
        )
        assert turns[0].step.speech[0].text == spoken
        assert figures(s, action).recipients == population // 2  # the updates are no new recipients
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "action.updated")).one()
        assert audit.operator_id == rooms.centralist_id and audit.detail["updates_queued"] == 2
        # The live page's history says how far the update got.
        [line] = revision_history(s, action)
        assert line["progress"] == "0 van 2 bereikt, 2 onderweg"
        assert line["text"] == f" door {centralist.display_name}: " + line["result"] + "."

        # A second update reaches the same people again; one that says nothing new is refused.
        second = send_update(
            s, action, centralist, DESCRIPTION | {"clothing": "een gele jas"}, "", clock, settings
        )
        assert second.number == 2 and second.updates_queued == 2
        with pytest.raises(InvalidActionRequest) as refused:
            send_update(
                s, action, centralist, DESCRIPTION | {"clothing": "een gele jas"}, "", clock, settings
            )
        assert "niets nieuws" in refused.value.user_message
        s.rollback()

        # Ending the action cancels the updates not yet sent, with the rest of the queue.
        end_action(s, action, centralist, "found", "", clock, settings)
        states = set(
            s.scalars(
                select(Delivery.state).where(
                    Delivery.action_id == action.id, Delivery.kind == DeliveryKind.UPDATE
                )
            )
        )
        assert states == {DeliveryState.CANCELLED}
        assert revision_history(s, action)[0]["progress"] == "0 van 2 bereikt, 2 geannuleerd"


def test_a_moved_and_widened_circle_adds_only_new_participants(db, rooms, population, clock, settings):
    with db.session() as s:
        action = start(s, rooms, settings, clock)
        first = alert_targets(s, action)
        assert len(first) == 5
        centralist = s.get(Operator, rooms.centralist_id)
        # Moved north to participant 7, 300 m: participants 5-9 are new, 4 is outside.
        moved = change_area(
            s, action, centralist, MARKT[0] + 0.007, MARKT[1], 300, "Kerkstraat 1, Delft", clock, settings
        )
        assert moved.recipients_added == 5 and moved.recipients_total == 10
        assert "voor de omgeving Delft, rond de Kerkstraat" in action.voice_text
        after = alert_targets(s, action)
        assert len(after) == len(set(after)) == population and set(first) <= set(after)
        # Everyone in the wider circle was already asked: nothing added, nothing changed.
        with pytest.raises(ActionError) as refused:
            change_area(s, action, centralist, MARKT[0], MARKT[1], 2000, "", clock, settings)
        assert "voegt niemand toe" in refused.value.user_message
        s.rollback()
        history = s.scalars(select(ActionRevision).where(ActionRevision.action_id == action.id)).all()
        assert [(r.number, r.kind, r.before["radius_m"], r.after["radius_m"]) for r in history] == [
            (1, RevisionKind.AREA, 500, 300)
        ]


def test_the_supervisor_rule_counts_the_totals_after_the_change(db, rooms, population, clock, settings):
    settings.max_recipients_without_supervisor = 7
    with db.session() as s:
        action = start(s, rooms, settings, clock)
        centralist = s.get(Operator, rooms.centralist_id)
        with pytest.raises(SupervisorRequired):
            change_area(s, action, centralist, MARKT[0], MARKT[1], 1500, "", clock, settings)
        s.rollback()
        assert len(alert_targets(s, action)) == 5
        widened = change_area(
            s,
            action,
            centralist,
            MARKT[0],
            MARKT[1],
            1500,
            "",
            clock,
            settings,
            supervisor=s.get(Operator, rooms.supervisor_id),
        )
        assert widened.supervisor_confirmed_by_id == rooms.supervisor_id
        assert widened.recipients_added == 5 and len(alert_targets(s, action)) == 10
