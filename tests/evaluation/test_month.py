"""A simulated month of actions: the evaluation figures must match a brute-force recount from
the generator's own records, before and after the retention purge and an account deletion."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.clock import FakeClock
from db.models import (
    Action,
    ActionStatus,
    Address,
    AddressKind,
    Channel,
    ControlRoom,
    Delivery,
    DeliveryKind,
    DeliveryState,
    GeocodeStatus,
    IncidentType,
    MessageHeard,
    Outcome,
    Participant,
    PhoneKind,
    PhoneNumber,
    Sighting,
)
from evaluation.figures import Scope, build_report
from participants.retention import purge
from participants.selfservice import delete_account

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
TOWNS = {"Delft": (52.0116, 4.3571), "Rijswijk": (52.0363, 4.3250)}
# Picked up by a person or handed over ("answered"); "reached" also needs the message heard.
ANSWERED = {"answered", "completed", "sent", "delivered"}
HEARD = [None, MessageHeard.NONE, MessageHeard.PART, MessageHeard.ALL]
VOICE_END = ["completed", "completed", "completed", "busy", "no_answer", "machine", "failed"]
TEXT_END = ["delivered", "delivered", "sent", "failed"]


def simulate(db, seed=8):
    rnd = random.Random(seed)
    calls = random.Random(seed + 1)  # how call-back calls ended, apart from the main stream
    listened = random.Random(seed + 2)  # how much of the message each answered call heard
    truth = {"actions": [], "deliveries": [], "sightings": [], "people": []}
    with db.transaction() as s:
        rooms = [
            ControlRoom(name=n, region="Haaglanden", transfer_target="+31701234567")
            for n in ("Meldkamer Haaglanden", "Meldkamer Oefen")
        ]
        s.add_all(rooms)
        s.flush()
        people = []
        for i in range(120):
            town = rnd.choice(list(TOWNS))
            lat, lon = TOWNS[town]
            created = NOV - timedelta(days=40) + timedelta(hours=rnd.randrange(0, 70 * 24))
            p = Participant(
                name=f"Deelnemer {i}",
                birth_year=1960 + i % 40,
                channels=["voice", "sms"],
                created_at=created,
                email=f"p{i}@example.nl",
                email_verified=True,
                addresses=[
                    Address(
                        kind=AddressKind.HOME,
                        postcode="2611AB",
                        house_number=i + 1,
                        municipality=town,
                        lat=lat + rnd.uniform(-0.003, 0.003),
                        lon=lon + rnd.uniform(-0.003, 0.003),
                        geocode_status=GeocodeStatus.OK,
                    )
                ],
                phones=[
                    PhoneNumber(e164=f"+316{10000000 + i}", kind=PhoneKind.MOBILE, verified=True),
                    PhoneNumber(e164=f"+3115{2000000 + i}", kind=PhoneKind.LANDLINE, verified=True),
                ],
            )
            s.add(p)
            people.append(p)
            truth["people"].append({"town": town, "created": created})
        s.flush()
        for n in range(45):
            town = rnd.choice(list(TOWNS))
            room = rnd.choice(rooms)
            started = NOV - timedelta(days=2) + timedelta(minutes=rnd.randrange(0, 33 * 24 * 60))
            ended = started + timedelta(minutes=rnd.randrange(15, 90))
            running = n == 44
            outcome = None if running else rnd.choice(list(Outcome))
            training = rnd.random() < 0.15
            action = Action(
                control_room_id=room.id,
                incident_type=rnd.choice(list(IncidentType)),
                lat=TOWNS[town][0],
                lon=TOWNS[town][1],
                radius_m=1000,
                channels=["voice", "sms"],
                status=ActionStatus.RUNNING if running else ActionStatus.ENDED,
                outcome=outcome,
                started_at=started,
                ended_at=None if running else ended,
                training=training,
            )
            s.add(action)
            s.flush()
            truth["actions"].append(
                {
                    "id": action.id,
                    "room": room.id,
                    "town": town,
                    "type": action.incident_type.value,
                    "outcome": outcome.value if outcome else "running",
                    "started": started,
                    "ended": None if running else ended,
                    "training": training,
                }
            )
            for p in rnd.sample(people, rnd.randrange(0, 25)):
                contacts = [(Channel.VOICE, PhoneKind.LANDLINE, p.phones[1].e164)]
                if rnd.random() < 0.7:
                    contacts.append((Channel.VOICE, PhoneKind.MOBILE, p.phones[0].e164))
                if rnd.random() < 0.5:
                    contacts.append((Channel.SMS, PhoneKind.MOBILE, p.phones[0].e164))
                if rnd.random() < 0.2:
                    contacts.append((Channel.EMAIL, None, p.email))
                for channel, kind, target in contacts:
                    state = rnd.choice(VOICE_END if channel is Channel.VOICE else TEXT_END)
                    ack = state in ANSWERED and rnd.random() < 0.4
                    # An answered call heard none, part or all of the message (or, from before
                    # this was recorded, unknown); a machine that took the message is no person.
                    heard = listened.choice(HEARD) if state in ("completed", "machine") else None
                    if channel is Channel.VOICE:
                        reached = state == "completed" and heard in (MessageHeard.PART, MessageHeard.ALL)
                    else:
                        reached = state in ANSWERED
                    d = Delivery(
                        action_id=action.id,
                        participant_id=p.id,
                        kind=DeliveryKind.ALERT,
                        channel=channel,
                        phone_kind=kind,
                        target=target,
                        state=DeliveryState(state),
                        acknowledged=ack,
                        answered_by={"completed": "human", "machine": "machine"}.get(state),
                        heard=heard,
                        created_at=started,
                    )
                    s.add(d)
                    truth["deliveries"].append(
                        {
                            "action": action.id,
                            "person": p.id,
                            "channel": channel.value,
                            "kind": kind.value if kind else "",
                            "state": state,
                            "reached": reached,
                            "ack": ack,
                        }
                    )
            # an outcome message and a verification call must not count
            s.add(
                Delivery(
                    action_id=action.id,
                    participant_id=people[0].id,
                    kind=DeliveryKind.OUTCOME,
                    channel=Channel.SMS,
                    phone_kind=PhoneKind.MOBILE,
                    target="+31600000000",
                    state=DeliveryState.DELIVERED,
                    created_at=started,
                )
            )
            for _ in range(rnd.choice([0, 0, 1, 2, 3])):
                at = started + timedelta(seconds=rnd.randrange(30, 3000))
                # Every call to the call-back line is a row; one that hung up before a choice
                # (status none, not put through) left nothing to act on and is no sighting.
                status, transferred = calls.choice(
                    [(None, False), ("complete", False), ("truncated", False), ("failed", True)]
                    + [("none", True), ("none", False), ("none", False)]
                )
                s.add(
                    Sighting(
                        action_id=action.id,
                        control_room_id=room.id,
                        received_at=at,
                        caller_number="+31611112222",
                        participant_id=rnd.choice(people).id,
                        recording_status=status,
                        transferred=transferred,
                    )
                )
                if status != "none" or transferred:
                    truth["sightings"].append({"action": action.id, "at": at})
    return truth


def recount(truth, start, end, room=None, town=None, training=False):
    actions = [
        a
        for a in truth["actions"]
        if start <= a["started"] < end
        and (room is None or a["room"] == room)
        and (town is None or a["town"] == town)
        and (training or not a["training"])
    ]
    ids = {a["id"] for a in actions}
    per_channel = defaultdict(lambda: [0, 0, 0, 0])
    people = defaultdict(lambda: [False, False, False])
    for d in truth["deliveries"]:
        if d["action"] not in ids:
            continue
        row = per_channel[(d["channel"], d["kind"])]
        row[0] += 1
        row[1] += d["reached"]
        row[2] += d["ack"]
        row[3] += d["state"] in ANSWERED
        flags = people[(d["action"], d["person"])]
        flags[0] |= d["reached"]
        flags[1] |= d["ack"]
        flags[2] |= d["state"] in ANSWERED
    sightings = [x for x in truth["sightings"] if x["action"] in ids]
    firsts = []
    for a in actions:
        times = [x["at"] for x in sightings if x["action"] == a["id"]]
        if times:
            firsts.append((min(times) - a["started"]).total_seconds())
    ended = [a for a in actions if a["ended"] is not None]
    direct = [a for a in ended if a["outcome"] in ("arrested", "found", "vehicle_found")]
    return {
        "actions": len(actions),
        "by_type_outcome": dict(Counter((a["type"], a["outcome"]) for a in actions)),
        "channels": {k: tuple(v) for k, v in per_channel.items()},
        "people": (
            len(people),
            sum(r for r, _, _ in people.values()),
            sum(k for _, k, _ in people.values()),
            sum(a for _, _, a in people.values()),
        ),
        "sightings": len(sightings),
        "first_median": statistics.median(firsts) if firsts else None,
        "direct_share": len(direct) / len(ended) if ended else None,
    }


def figures(report):
    return {
        "actions": report.action_count,
        "by_type_outcome": report.by_type_outcome,
        "channels": {
            (c.channel, c.phone_kind): (
                c.counts.recipients,
                c.counts.reached,
                c.counts.acknowledged,
                c.counts.answered,
            )
            for c in report.channels
        },
        "people": (
            report.people.recipients,
            report.people.reached,
            report.people.acknowledged,
            report.people.answered,
        ),
        "sightings": report.sightings,
        "first_median": report.first_sighting_median_s,
        "direct_share": report.direct_result_share,
    }


SCOPES = [
    dict(),
    dict(training=True),
    dict(room="first"),
    dict(town="Rijswijk"),
    dict(room="first", town="Delft", training=True),
]


@pytest.mark.parametrize("scope", SCOPES)
def test_month_figures_match_a_brute_force_recount(db, scope):
    truth = simulate(db)
    with db.session() as s:
        first_room = s.scalar(select(ControlRoom.id).order_by(ControlRoom.id))
    room = first_room if scope.get("room") else None
    expected = recount(
        truth, NOV, DEC, room=room, town=scope.get("town"), training=scope.get("training", False)
    )
    assert expected["actions"] > 3 and expected["sightings"] > 0  # the simulation is not empty
    with db.session() as s:
        report = build_report(
            s,
            Scope(
                NOV,
                DEC,
                control_room_id=room,
                municipality=scope.get("town"),
                include_training=scope.get("training", False),
            ),
        )
    assert figures(report) == expected


def test_figures_survive_the_purge_and_account_deletions(db, settings):
    truth = simulate(db, seed=11)
    with db.session() as s:
        before = figures(build_report(s, Scope(NOV, DEC, include_training=True)))
    # retention cut-off in the middle of the month: the first half loses its deliveries
    settings.retention_days = 20
    clock = FakeClock(datetime(2026, 12, 5, tzinfo=UTC))
    with db.transaction() as s:
        report = purge(s, clock, settings)
        assert report.deliveries_deleted > 0
    with db.transaction() as s:
        for p in s.scalars(select(Participant).order_by(Participant.id).limit(30)).all():
            delete_account(s, clock, p)
    with db.session() as s:
        after = figures(build_report(s, Scope(NOV, DEC, include_training=True)))
    assert after == before == recount(truth, NOV, DEC, training=True)


def test_growth_and_coverage_per_municipality(db):
    truth = simulate(db)
    from evaluation.municipalities import DEMO_FILE, import_municipalities

    with db.transaction() as s:
        result = import_municipalities(s, DEMO_FILE.read_text())
        assert result.created == 9 and not result.errors
    with db.session() as s:
        report = build_report(s, Scope(NOV, DEC))
    growth = {(g.municipality, g.month): (g.new, g.total) for g in report.growth}
    for town in TOWNS:
        created = [p["created"] for p in truth["people"] if p["town"] == town]
        assert growth[(town, "2026-11")] == (
            sum(NOV <= c < DEC for c in created),
            sum(c < DEC for c in created),
        )
    cover = {c.municipality: c for c in report.coverage}
    assert cover["Delft"].participants == sum(p["town"] == "Delft" for p in truth["people"])
    assert cover["Delft"].population == 106000
    assert cover["Zoetermeer"].participants == 0
    assert cover["Delft"].per_thousand == pytest.approx(1000 * cover["Delft"].participants / 106000)
