"""Training mode's simulated call-backs (dialer.simulated_callbacks): reached participants phone
the call-back line through the real call-back flow and leave the rows a real caller leaves, a
spoken recording in the store among them; never outside training mode."""

from __future__ import annotations

import random
import wave
from datetime import timedelta

import pytest
from sqlalchemy import select

from callback_line.inbox import list_sightings
from db.models import (
    Action,
    ActionStatus,
    AuditEvent,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryState,
    IncidentType,
    Operator,
    Participant,
    PhoneKind,
    PhoneNumber,
    Role,
    Sighting,
)
from dialer.jobs import JOBS
from dialer.simulated_callbacks import (
    AUTOMATIC_PREFIX,
    Behaviour,
    NotInTraining,
    SimulatedCall,
    due_callbacks,
    place_call,
    plan_callback,
    run_due_callbacks,
    simulated_callbacks_job,
    trainer_callback,
)
from dialer.simulated_sightings import sighting_text

CHILD = {"gender": "male", "age": "8", "clothing": "een rode jas", "hair": "blond haar"}


def seed_training_action(db, clock, *, participants: int = 4, training: bool = True) -> dict:
    """A control room, a centralist, a running missing-child action and its reached voice alerts."""
    with db.transaction() as s:
        room = ControlRoom(
            name="Meldkamer Haaglanden",
            region="Haaglanden",
            transfer_target="+31703456789",
            callback_number="0800-0011",
        )
        s.add(room)
        s.flush()
        operator = Operator(
            username="trainer",
            display_name="De Trainer",
            password_hash="x",
            role=Role.CENTRALIST,
            control_room_id=room.id,
            transfer_target="+31701234567",
        )
        s.add(operator)
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.MISSING_CHILD,
            description=CHILD,
            voice_text="x",
            location_label="Markt 1, Delft",
            lat=52.0116,
            lon=4.3571,
            radius_m=2500,
            channels=["voice"],
            status=ActionStatus.RUNNING,
            training=training,
            started_at=clock.now(),
        )
        s.add(action)
        s.flush()
        deliveries = []
        for n in range(participants):
            number = f"+316123450{n:02d}"
            participant = Participant(name=f"Deelnemer {n}", birth_year=1980, channels=["voice"])
            participant.phones.append(PhoneNumber(e164=number, kind=PhoneKind.MOBILE, verified=True))
            s.add(participant)
            s.flush()
            delivery = Delivery(
                action_id=action.id,
                participant_id=participant.id,
                channel=Channel.VOICE,
                target=number,
                phone_kind=PhoneKind.MOBILE,
                rank=n,
                state=DeliveryState.COMPLETED,
                answered_at=clock.now(),
                finished_at=clock.now(),
            )
            s.add(delivery)
            s.flush()
            deliveries.append(delivery.id)
        return {"action_id": action.id, "operator_id": operator.id, "deliveries": deliveries}


def rows(db) -> list[Sighting]:
    with db.session() as s:
        return list(s.scalars(select(Sighting).order_by(Sighting.id)))


def assert_telephone_wav(path) -> None:
    with wave.open(str(path), "rb") as audio:
        assert audio.getframerate() == 8000 and audio.getnchannels() == 1
        assert audio.getnframes() / audio.getframerate() > 1.0  # real speech, not a click


def test_each_kind_of_caller_leaves_the_rows_a_real_caller_leaves(db, clock, settings):
    seeded = seed_training_action(db, clock)
    numbers = [f"+316123450{n:02d}" for n in range(4)]
    calls = [
        SimulatedCall(
            "t-record", seeded["action_id"], numbers[0], Behaviour.RECORD, False, "Ik zie een jongen."
        ),
        SimulatedCall("t-through", seeded["action_id"], numbers[1], Behaviour.TRANSFER, True, "Hallo."),
        SimulatedCall("t-nobody", seeded["action_id"], numbers[2], Behaviour.TRANSFER, False, "Ik zag hem."),
        SimulatedCall("t-gone", seeded["action_id"], numbers[3], Behaviour.HANG_UP, False, ""),
    ]
    results = {}
    for call in calls:
        with db.session() as s:
            results[call.call_id] = place_call(s, call, clock, settings)
            s.commit()

    assert results["t-record"].nodes[-1] == "thanks"
    assert "transfer" in results["t-through"].nodes and results["t-through"].nodes[-1] == "end"
    assert "record_unreachable" in results["t-nobody"].nodes
    assert results["t-gone"].nodes[-1] == "hung_up"
    by_call = {row.provider_call_id: row for row in rows(db)}
    assert set(by_call) == {c.call_id for c in calls}
    for row in by_call.values():
        assert row.provider == "simulator" and row.action_id == seeded["action_id"]
        assert row.participant_id is not None and row.delivery_id is not None  # identified by number
    recorded, through, nobody, gone = (by_call[c.call_id] for c in calls)
    assert recorded.recording_status == "complete" and not recorded.transferred
    assert_telephone_wav(settings.recordings_dir / recorded.recording_path)
    assert through.transferred and through.recording_status == "none" and through.recording_path is None
    assert not nobody.transferred and nobody.transfer_result == "NOANSWER"
    assert nobody.recording_status == "complete"
    assert gone.recording_status == "none" and not gone.transferred
    # The inbox shows every one of them as simulated, the spoken ones playable.
    with db.session() as s:
        inbox = list_sightings(s, seeded["action_id"])
    assert len(inbox) == 4 and all(item.simulated for item in inbox)
    assert sum(1 for item in inbox if item.recording_path) == 2
    assert not (settings.instance_path / "simulated-callbacks").exists() or not any(
        (settings.instance_path / "simulated-callbacks").iterdir()
    )  # nothing left in the spool


def test_reached_participants_call_back_after_their_delay_once_each_within_the_cap(db, clock, settings):
    profile = settings.dialer.simulator.callbacks
    profile.rate, profile.delay_min_s, profile.delay_mean_s = 1.0, 30.0, 60.0
    profile.record_share = profile.transfer_share = 0.0  # hang-ups: the scheduling is under test
    profile.max_per_action, profile.per_run = 3, 2
    seeded = seed_training_action(db, clock, participants=5)

    assert run_due_callbacks(db, clock, settings) == 0  # nobody calls before the minimum delay
    clock.advance(3600)
    assert run_due_callbacks(db, clock, settings) == 2  # per run
    assert run_due_callbacks(db, clock, settings) == 1  # up to the action's cap
    assert run_due_callbacks(db, clock, settings) == 0
    made = rows(db)
    assert len(made) == 3
    assert len({row.provider_call_id for row in made}) == 3
    assert all(row.provider_call_id.startswith(AUTOMATIC_PREFIX) for row in made)
    assert {row.delivery_id for row in made} <= set(seeded["deliveries"])
    # The job the scheduler runs is registered, and a rerun adds nothing (the cap and the ids).
    assert "simulated_callbacks" in {job.name for job in JOBS}
    profile.max_per_action = 10
    simulated_callbacks_job(db, settings, clock)
    simulated_callbacks_job(db, settings, clock)
    assert len(rows(db)) == 5 and len({row.provider_call_id for row in rows(db)}) == 5


def test_the_trainer_triggers_a_caller_with_own_words_and_it_is_audited(db, clock, settings):
    seeded = seed_training_action(db, clock, participants=2)
    with db.session() as s:
        trainer = s.get(Operator, seeded["operator_id"])
        first = trainer_callback(
            s, seeded["action_id"], trainer, clock, settings, text="Ik zie een jongen met een rode jas."
        )
        second = trainer_callback(s, seeded["action_id"], trainer, clock, settings, choice="transfer")
        s.commit()
    one, two = rows(db)
    assert one.id == first.sighting_id and one.recording_status == "complete"
    assert two.id == second.sighting_id and two.transferred
    assert one.caller_number != two.caller_number  # another participant calls the second time
    with db.session() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.event == "training.callback_simulated")).all()
    assert len(audit) == 2 and audit[0].actor == "trainer" and audit[0].detail["own_words"] is True


def test_production_never_simulates(db, clock, settings):
    seeded = seed_training_action(db, clock)
    settings.dialer.simulator.callbacks.rate = 1.0
    clock.advance(3600)
    production = settings.model_copy(update={"phone_backend": "asterisk"})
    assert not production.training_mode
    assert run_due_callbacks(db, clock, production) == 0
    simulated_callbacks_job(db, production, clock)
    with db.session() as s:
        with pytest.raises(NotInTraining):
            due_callbacks(s, clock, production)
        trainer = s.get(Operator, seeded["operator_id"])
        with pytest.raises(NotInTraining):
            trainer_callback(s, seeded["action_id"], trainer, clock, production)
        with pytest.raises(NotInTraining):
            place_call(
                s,
                SimulatedCall("p", seeded["action_id"], None, Behaviour.HANG_UP, False, ""),
                clock,
                production,
            )
    assert rows(db) == []
    # In training mode, an action that is not a training action gets no callers either.
    with db.transaction() as s:
        s.get(Action, seeded["action_id"]).training = False
    assert run_due_callbacks(db, clock, settings) == 0
    with db.session() as s, pytest.raises(NotInTraining):
        trainer_callback(s, seeded["action_id"], s.get(Operator, seeded["operator_id"]), clock, settings)
    assert rows(db) == []


def test_the_plan_is_reproducible_and_follows_the_rate(settings):
    profile = settings.dialer.simulator.callbacks
    plans = [plan_callback(n, profile, seed=7) for n in range(4000)]
    assert plans == [plan_callback(n, profile, seed=7) for n in range(4000)]
    callers = [p for p in plans if p is not None]
    assert 0.5 * profile.rate < len(callers) / 4000 < 1.5 * profile.rate
    assert all(p.delay_s >= profile.delay_min_s for p in callers)
    assert {p.behaviour for p in callers} == set(Behaviour)
    profile.rate = 0.0
    assert all(plan_callback(n, profile, seed=7) is None for n in range(200))


@pytest.mark.parametrize(
    ("incident", "description", "expected"),
    [
        (IncidentType.MISSING_CHILD, CHILD, ("jongen", "rode jas")),
        (IncidentType.MISSING_PERSON, {"gender": "female", "age": "82"}, ("oudere vrouw",)),
        (IncidentType.SUSPECT, {"gender": "male", "clothing": "een blauwe jas"}, ("man", "blauwe jas")),
        (
            IncidentType.VEHICLE,
            {"colour": "red", "make": "Volkswagen", "plate": "12-ABC-3"},
            ("rode Volkswagen",),
        ),
        (IncidentType.OTHER, {"subject": "een loslopend paard"}, ("loslopend paard",)),
    ],
)
def test_the_spoken_sighting_follows_the_incident_and_its_description(incident, description, expected):
    for seed in range(5):
        text = sighting_text(incident, description, random.Random(seed))
        assert all(part in text for part in expected), text
        assert text.endswith(".") and len(text) < 300


def test_reached_at_counts_from_when_the_participant_was_reached(db, clock, settings):
    profile = settings.dialer.simulator.callbacks
    profile.rate, profile.delay_min_s, profile.delay_mean_s = 1.0, 100.0, 0.001
    seed_training_action(db, clock, participants=1)
    with db.session() as s:
        clock.advance(99)
        assert due_callbacks(s, clock, settings) == []
        clock.advance(timedelta(seconds=2).total_seconds())
        assert len(due_callbacks(s, clock, settings)) == 1


def test_with_a_call_queue_the_callers_wait_in_it_and_are_taken_or_record(db, clock, settings):
    seeded = seed_training_action(db, clock, participants=3)
    with db.transaction() as s:
        s.get(Action, seeded["action_id"]).control_room.callback_queue = "burgernet-haaglanden"
    numbers = [f"+316123450{n:02d}" for n in range(3)]
    calls = [
        SimulatedCall("q-taken", seeded["action_id"], numbers[0], Behaviour.TRANSFER, True, "Hallo."),
        SimulatedCall("q-nobody", seeded["action_id"], numbers[1], Behaviour.TRANSFER, False, "Ik zag hem."),
        SimulatedCall("q-record", seeded["action_id"], numbers[2], Behaviour.RECORD, False, "Bij de kerk."),
    ]
    results = {}
    for call in calls:
        with db.session() as s:
            results[call.call_id] = place_call(s, call, clock, settings)
            s.commit()

    assert all("queue" in " ".join(result.nodes) for result in results.values()), results
    by_call = {row.provider_call_id: row for row in rows(db)}
    taken, nobody, recorded = (by_call[c.call_id] for c in calls)
    assert taken.line_state == "connected" and taken.recording_status == "none"
    assert nobody.line_state == "recorded" and nobody.recording_status == "complete"
    assert recorded.line_state == "recorded" and recorded.recording_status == "complete"
    assert_telephone_wav(settings.recordings_dir / recorded.recording_path)
