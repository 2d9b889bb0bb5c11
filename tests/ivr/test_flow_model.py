"""Walk the alert flow step by step through the engine alone (no renderer).

The walks themselves (inputs and the expected steps) are in `alert_walks.py`, shared with the
renderers' tests (tests/ivr/test_fastagi_walks.py for FastAGI; the TwiML side can use them too).
"""

from __future__ import annotations

import pytest
from alert_walks import ALERT_WALKS, summary
from ivr_seed import seed_all
from sqlalchemy import select

from db.models import (
    AuditEvent,
    Delivery,
    DeliveryEvent,
    HangupBy,
    MessageHeard,
    Operator,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
)
from deliveries.states import record_event
from ivr.alert_flow import ALERT_FLOW
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import (
    AwaitMessageEndStep,
    CallEnv,
    Engine,
    Flow,
    FlowError,
    FlowState,
    Hangup,
    Input,
    Menu,
    Play,
    Say,
    walk,
)
from ivr.prompt_texts import prompt_text

ENGINE = Engine(ALERT_FLOW)


@pytest.fixture
def seeded(db):
    return seed_all(db)


@pytest.fixture
def session(db):
    with db.session() as s:
        yield s


def env_for(session, clock, settings, answered_by="human") -> CallEnv:
    return CallEnv(session=session, clock=clock, settings=settings, provider="test", answered_by=answered_by)


@pytest.mark.parametrize("name", sorted(ALERT_WALKS))
def test_alert_walks(name, seeded, session, clock, settings):
    answered_by, inputs, expected = ALERT_WALKS[name]
    turns = walk(
        ENGINE, env_for(session, clock, settings, answered_by), {"delivery_id": seeded.delivery_id}, inputs
    )
    assert [summary(t.step) for t in turns] == expected


@pytest.mark.parametrize("name", sorted(ALERT_WALKS))
def test_alert_walks_resume_from_query_string(name, seeded, db, clock, settings):
    """The TwiML way: every turn in a fresh session, from the state carried in the URL."""
    answered_by, inputs, expected = ALERT_WALKS[name]
    with db.session() as s:
        turn = ENGINE.start(env_for(s, clock, settings, answered_by), {"delivery_id": seeded.delivery_id})
    seen = [summary(turn.step)]
    for happened in inputs:
        params = turn.state.to_params()
        assert all(isinstance(v, str) and len(v) < 40 for v in params.values())
        with db.session() as s:
            turn = ENGINE.resume(
                FlowState.from_params(params), happened, env_for(s, clock, settings, answered_by)
            )
        seen.append(summary(turn.step))
    assert seen == expected


def test_choices_land_on_the_delivery_row(seeded, session, clock, settings, db):
    walk(
        ENGINE,
        env_for(session, clock, settings),
        {"delivery_id": seeded.delivery_id},
        ALERT_WALKS["repeat_then_confirm"][1],
    )
    with db.session() as s:
        delivery = s.get(Delivery, seeded.delivery_id)
        assert delivery.menu_choices == "13"
        assert delivery.acknowledged is True
        assert delivery.transfer_requested is False
        assert delivery.opt_out_requested is False


def test_transfer_request_and_results_are_stored(seeded, session, clock, settings, db):
    walk(
        ENGINE,
        env_for(session, clock, settings),
        {"delivery_id": seeded.delivery_id},
        ALERT_WALKS["transfer_fails_then_succeeds"][1],
    )
    with db.session() as s:
        delivery = s.get(Delivery, seeded.delivery_id)
        assert delivery.transfer_requested is True
        assert delivery.menu_choices == "22"
        events = s.scalars(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery.id).order_by(DeliveryEvent.id)
        ).all()
        assert [
            (e.event, e.detail["answered"], e.detail["status"]) for e in events if e.event == "ivr_transfer"
        ] == [
            ("ivr_transfer", False, "NOANSWER"),
            ("ivr_transfer", True, "ANSWER"),
        ]
        # The message was played before the menu: recorded once for this attempt.
        assert [e.detail for e in events if e.event == "ivr.message_heard"] == [
            {"attempt": delivery.attempts}
        ]


def test_a_confirmed_9_opts_out_the_called_number_only_and_audits(seeded, session, clock, settings, db):
    # The participant has a second number and an email address: those stay.
    with db.transaction() as s:
        participant = s.get(Participant, seeded.participant_id)
        participant.phones.append(PhoneNumber(e164="+31201234567", kind=PhoneKind.LANDLINE, verified=True))
    walk(
        ENGINE,
        env_for(session, clock, settings),
        {"delivery_id": seeded.delivery_id},
        ALERT_WALKS["opt_out_after_second_thought"][1],
    )
    with db.session() as s:
        delivery = s.get(Delivery, seeded.delivery_id)
        assert delivery.opt_out_requested is True
        assert delivery.menu_choices == "9291"
        participant = s.get(Participant, seeded.participant_id)
        assert participant.status is ParticipantStatus.ACTIVE
        verified = {p.e164: p.verified for p in participant.phones}
        assert verified == {delivery.target: False, "+31201234567": True}
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "participant.phone_opted_out")).one()
        called = next(p for p in participant.phones if p.e164 == delivery.target)
        assert (audit.target_type, audit.target_id) == ("phone_number", called.id)
        assert audit.actor == f"participant:{seeded.participant_id}"
        assert audit.detail["delivery_id"] == seeded.delivery_id


def test_opt_out_not_confirmed_changes_nothing(seeded, session, clock, settings, db):
    walk(
        ENGINE,
        env_for(session, clock, settings),
        {"delivery_id": seeded.delivery_id},
        [Input.done(), Input.digit("9"), Input.timeout(), Input.done(), Input.digit("3")],
    )
    with db.session() as s:
        assert s.get(Delivery, seeded.delivery_id).opt_out_requested is False
        assert s.get(Participant, seeded.participant_id).status is ParticipantStatus.ACTIVE


def test_machine_verdict_from_the_delivery_row(seeded, session, clock, settings, db):
    with db.transaction() as s:
        s.get(Delivery, seeded.delivery_id).answered_by = "machine"
    turn = ENGINE.start(
        env_for(session, clock, settings, answered_by=None), {"delivery_id": seeded.delivery_id}
    )
    assert isinstance(turn.step, AwaitMessageEndStep)


def test_transfer_falls_back_to_the_control_room(seeded, session, clock, settings, db):
    with db.transaction() as s:
        s.get(Operator, seeded.operator_id).transfer_target = None
    turns = walk(
        ENGINE,
        env_for(session, clock, settings),
        {"delivery_id": seeded.delivery_id},
        [Input.done(), Input.digit("2"), Input.transfer(True, "ANSWER")],
    )
    assert turns[2].step.target == "+31703456700"


def test_unknown_delivery_is_a_flow_error(db, session, clock, settings):
    with pytest.raises(FlowError, match="unknown delivery"):
        ENGINE.start(env_for(session, clock, settings, answered_by=None), {"delivery_id": 999})


def test_wrong_input_for_a_step_is_a_flow_error(seeded, session, clock, settings):
    env = env_for(session, clock, settings)
    turn = ENGINE.start(env, {"delivery_id": seeded.delivery_id})
    turn = ENGINE.resume(turn.state, Input.done(), env)  # now at the menu
    with pytest.raises(FlowError, match="menu 'menu' got recording"):
        ENGINE.resume(turn.state, Input.recording("/tmp/x.wav", 1.0), env)


def test_tampered_state_is_refused():
    with pytest.raises(FlowError, match="cannot restore"):
        FlowState.from_params({"flow": "alert", "node": "menu", "c_delivery_id": "x12"})
    with pytest.raises(FlowError, match="no node"):
        ENGINE.resume(FlowState("alert", "nowhere", {}), Input.done(), None)
    with pytest.raises(FlowError, match="belongs to flow"):
        ENGINE.resume(FlowState("callback", "menu", {}), Input.done(), None)


def test_flow_definitions_are_checked():
    with pytest.raises(FlowError, match="unknown 'nowhere'"):
        Flow.build("x", "a", [Play("a", prompts=(), next="nowhere")], {})
    with pytest.raises(FlowError, match="unknown handler 'store'"):
        Flow.build(
            "x",
            "a",
            [
                Menu("a", prompts=(Say("k"),), choices={"1": "b"}, on_exhausted="b", on_input="store"),
                Hangup("b"),
            ],
            {},
        )
    with pytest.raises(FlowError, match="defined twice"):
        Flow.build("x", "a", [Hangup("a"), Hangup("a")], {})


@pytest.mark.parametrize("flow", [ALERT_FLOW, CALLBACK_FLOW], ids=lambda f: f.name)
def test_every_fixed_prompt_has_text(flow, settings):
    keys = {
        ref.key
        for node in flow.nodes.values()
        for ref in (
            *getattr(node, "prompts", ()),
            *getattr(node, "invalid_prompts", ()),
            *getattr(node, "timeout_prompts", ()),
        )
        if isinstance(ref, Say)
    }
    assert len(keys) > 5
    for key in keys:
        assert prompt_text(key, settings).strip(), key
    # Placeholders are filled: the call-back number is spoken, never "{callback_number}".
    assert "{" not in prompt_text("transfer_failed", settings)


# --- what the call played ------------------------------------------------------------------


def test_a_2_in_the_middle_of_the_message_puts_through_at_once_and_counts_part(
    seeded, session, clock, settings, db
):
    env = env_for(session, clock, settings)
    turn = ENGINE.start(env, {"delivery_id": seeded.delivery_id})
    assert turn.state.node == "alert" and turn.step.digits == {"1", "2", "3", "9"}
    clock.advance(4.0)  # four seconds into the message
    turn = ENGINE.resume(turn.state, Input.digit("2"), env)
    assert turn.state.node == "transfer"
    with db.session() as s:
        row = s.get(Delivery, seeded.delivery_id)
        assert (row.heard, row.listened_s, row.menu_choices) == (MessageHeard.PART, 4.0, "2")
        assert row.transfer_requested


def test_the_message_heard_to_its_end_counts_all_and_the_goodbye_is_the_ivrs(
    seeded, session, clock, settings, db
):
    env = env_for(session, clock, settings)
    turn = ENGINE.start(env, {"delivery_id": seeded.delivery_id})
    clock.advance(11.0)
    turn = ENGINE.resume(turn.state, Input.done(), env)  # the menu
    for _ in range(3):
        turn = ENGINE.resume(turn.state, Input.timeout(), env)
    assert turn.state.node == "goodbye"
    with db.session() as s:
        row = s.get(Delivery, seeded.delivery_id)
        assert (row.heard, row.listened_s, row.hangup_by) == (MessageHeard.ALL, 11.0, HangupBy.IVR)


def test_a_key_pressed_during_detection_acts_when_the_flow_begins(seeded, session, clock, settings, db):
    with db.transaction() as s:
        row = s.get(Delivery, seeded.delivery_id)
        call = {"attempt": row.attempts, "provider_id": "bn-1-call"}
        record_event(s, row, "call.dtmf", clock, digits="3", attempt=row.attempts, provider_id="other")
        record_event(s, row, "call.dtmf", clock, digits="5", **call)  # no menu key
        record_event(s, row, "call.dtmf", clock, digits="2", **call)
    # Detection said machine, but a machine presses no keys: put through at once.
    env = env_for(session, clock, settings, answered_by="MACHINE")
    env.provider_call_id = "bn-1-call"
    turn = ENGINE.start(env, {"delivery_id": seeded.delivery_id})
    assert turn.state.node == "transfer"
    with db.session() as s:
        row = s.get(Delivery, seeded.delivery_id)
        assert row.menu_choices == "2" and row.transfer_requested and row.heard is None
