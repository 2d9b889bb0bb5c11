import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from db.models import (
    Address,
    AddressKind,
    Channel,
    GeocodeStatus,
    Participant,
    ParticipantStatus,
    PhoneKind,
    PhoneNumber,
)
from participants.selection import (
    Recipient,
    SelectionError,
    count_by_channel,
    select_recipients,
)

DELFT = (52.0116, 4.3571)
AMS = ZoneInfo("Europe/Amsterdam")
# Wednesday 2026-11-25 14:00 local (13:00 UTC, winter time).
WEDNESDAY_AFTERNOON = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
WEEKDAYS = 0b0011111


def offset(lat, lon, north_m, east_m):
    """A point `north_m` north and `east_m` east of (lat, lon) (small distances)."""
    return (
        lat + north_m / 111_195.0,
        lon + east_m / (111_195.0 * math.cos(math.radians(lat))),
    )


def add_participant(
    session,
    home=None,
    *,
    phones=(),
    channels=("voice",),
    email=None,
    email_verified=True,
    status=ParticipantStatus.ACTIVE,
    paused_until=None,
    work=None,
    work_window=(None, None, None),
    ref=None,
):
    participant = Participant(
        external_ref=ref,
        name="Deelnemer",
        birth_year=1970,
        email=email,
        email_verified=email_verified,
        channels=list(channels),
        status=status,
        paused_until=paused_until,
    )
    places = [(AddressKind.HOME, home, (None, None, None))] if home is not None else []
    if work is not None:
        places.append((AddressKind.WORK, work, work_window))
    for kind, point, (days, start, end) in places:
        lat, lon = point if point != "failed" else (None, None)
        participant.addresses.append(
            Address(
                kind=kind,
                postcode="2611AB",
                house_number=1,
                lat=lat,
                lon=lon,
                geocode_status=GeocodeStatus.OK if lat is not None else GeocodeStatus.FAILED,
                window_days=days,
                window_start_min=start,
                window_end_min=end,
            )
        )
    for e164, kind, verified in phones:
        participant.phones.append(PhoneNumber(e164=e164, kind=kind, verified=verified))
    session.add(participant)
    session.flush()
    return participant


# --- the independent brute-force reference -------------------------------------------------


def reference_distance(lat1, lon1, lat2, lon2):
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def reference_window(address, local):
    """Membership of the minute of the week in the window's weekly intervals."""
    days, start, end = address.window_days, address.window_start_min, address.window_end_min
    if days is None and start is None and end is None:
        return True
    if start is None or end is None:
        start, length = 0, 1440
    else:
        length = (end - start) % 1440  # a window past midnight wraps into the next day
    now = local.weekday() * 1440 + local.hour * 60 + local.minute
    for day in range(7):
        if days is not None and not days & (1 << day):
            continue
        if (now - (day * 1440 + start)) % (7 * 1440) < length:
            return True
    return False


def reference_selection(session, lat, lon, radius, at, channels=None):
    wanted = set(channels) if channels is not None else {"voice", "sms", "email"}
    local = at.astimezone(AMS)
    found = []
    for p in session.scalars(select(Participant).order_by(Participant.id)):
        if p.status == ParticipantStatus.OPTED_OUT:
            continue
        if p.paused_until is not None and p.paused_until > at:
            continue
        if p.status == ParticipantStatus.PAUSED and p.paused_until is None:
            continue
        for a in p.addresses:
            if a.lat is None:
                continue
            d = reference_distance(lat, lon, a.lat, a.lon)
            if d > radius or not reference_window(a, local):
                continue
            for ph in p.phones:
                if not ph.verified:
                    continue
                if "voice" in p.channels and "voice" in wanted:
                    found.append((d, p.id, a.id, 0, ph.e164, ph.kind))
                if "sms" in p.channels and "sms" in wanted and ph.kind == PhoneKind.MOBILE:
                    found.append((d, p.id, a.id, 1, ph.e164, ph.kind))
            if "email" in p.channels and "email" in wanted and p.email and p.email_verified:
                found.append((d, p.id, a.id, 2, p.email, None))
    found.sort()
    seen, result = set(), []
    channel_of = [Channel.VOICE, Channel.SMS, Channel.EMAIL]
    for d, pid, aid, rank, target, kind in found:
        key = (rank, target.lower())
        if key in seen:
            continue
        seen.add(key)
        result.append(Recipient(pid, aid, channel_of[rank], target, kind, d))
    return result


def random_population(session, rng, n=400):
    shared_landlines = [f"+3115{rng.randrange(2000000, 2999999)}" for _ in range(15)]
    shared_emails = [f"gezin{i}@example.org" for i in range(10)]
    all_channels = ["voice", "sms", "email"]
    for i in range(n):
        home = offset(*DELFT, rng.uniform(-4000, 4000), rng.uniform(-4000, 4000))
        if rng.random() < 0.05:
            home = "failed"
        phones = []
        if rng.random() < 0.6:
            phones.append((f"+316{10000000 + i:08d}", PhoneKind.MOBILE, rng.random() < 0.9))
        if rng.random() < 0.5:
            number = rng.choice(shared_landlines) if rng.random() < 0.3 else f"+3115{3000000 + i}"
            phones.append((number, PhoneKind.LANDLINE, rng.random() < 0.9))
        channels = [c for c in all_channels if rng.random() < 0.6] or ["voice"]
        email = rng.choice(shared_emails) if rng.random() < 0.2 else f"p{i}@example.org"
        if rng.random() < 0.1:
            email = email.upper()
        status = rng.choices(list(ParticipantStatus), weights=[85, 7, 8])[0]
        paused_until = None
        if rng.random() < 0.1:
            paused_until = WEDNESDAY_AFTERNOON + timedelta(hours=rng.choice([-48, -1, 1, 48]))
        work, window = None, (None, None, None)
        if rng.random() < 0.35:
            work = offset(*DELFT, rng.uniform(-3000, 3000), rng.uniform(-3000, 3000))
            window = rng.choice(
                [
                    (WEEKDAYS, 8 * 60, 18 * 60),
                    (WEEKDAYS, 13 * 60, 14 * 60),
                    (0b1100000, None, None),
                    (None, 22 * 60, 6 * 60),
                    (0b0000100, 9 * 60, 17 * 60),
                    (None, None, None),
                ]
            )
        # Some participants live exactly on the same spot (flats in one building).
        if rng.random() < 0.1 and i > 0:
            home = offset(*DELFT, 100.0, 100.0)
        add_participant(
            session,
            home,
            phones=phones,
            channels=channels,
            email=email,
            email_verified=rng.random() < 0.85,
            status=status,
            paused_until=paused_until,
            work=work,
            work_window=window,
        )


def test_matches_brute_force_reference_on_random_data(db):
    rng = random.Random(20261128)
    with db.transaction() as session:
        random_population(session, rng)
    moments = [
        WEDNESDAY_AFTERNOON,
        datetime(2026, 11, 28, 12, 0, tzinfo=UTC),  # Saturday
        datetime(2026, 11, 25, 23, 30, tzinfo=UTC),  # Thursday 00:30 local
        datetime(2026, 7, 6, 6, 30, tzinfo=UTC),  # Monday 08:30 summer time
    ]
    checked = 0
    with db.session() as session:
        for _ in range(12):
            lat, lon = offset(*DELFT, rng.uniform(-2000, 2000), rng.uniform(-2000, 2000))
            radius = rng.choice([300, 800, 1500, 2500, 6000])
            at = rng.choice(moments)
            channels = rng.choice([None, ["voice"], ["sms", "email"]])
            got = select_recipients(session, lat, lon, radius, at, channels)
            want = reference_selection(session, lat, lon, radius, at, channels)
            assert [r.__dict__ | {"distance_m": 0} for r in got] == [
                w.__dict__ | {"distance_m": 0} for w in want
            ]
            assert [r.distance_m for r in got] == pytest.approx([w.distance_m for w in want])
            checked += len(got)
    assert checked > 500  # the comparison is not vacuous


def test_nearest_first_with_distance(db):
    with db.transaction() as session:
        far = add_participant(
            session, offset(*DELFT, 900, 0), phones=[("+31612000001", PhoneKind.MOBILE, True)]
        )
        near = add_participant(
            session, offset(*DELFT, 0, 200), phones=[("+31612000002", PhoneKind.MOBILE, True)]
        )
        add_participant(session, offset(*DELFT, 1100, 0), phones=[("+31612000003", PhoneKind.MOBILE, True)])
    with db.session() as session:
        got = select_recipients(session, *DELFT, 1000, WEDNESDAY_AFTERNOON)
    assert [r.participant_id for r in got] == [near.id, far.id]
    assert got[0].distance_m == pytest.approx(200, abs=1)
    assert got[1].distance_m == pytest.approx(900, abs=1)
    assert got[0].channel is Channel.VOICE and got[0].phone_kind is PhoneKind.MOBILE


def test_work_address_counts_only_inside_its_time_window(db):
    with db.transaction() as session:
        worker = add_participant(
            session,
            offset(*DELFT, 20_000, 0),  # lives far away
            phones=[("+31612000010", PhoneKind.MOBILE, True)],
            work=offset(*DELFT, 100, 0),
            work_window=(WEEKDAYS, 8 * 60, 18 * 60),
        )
        night = add_participant(
            session,
            None,
            phones=[("+31152000011", PhoneKind.LANDLINE, True)],
            work=offset(*DELFT, 100, 0),
            work_window=(0b0000001, 22 * 60, 6 * 60),  # Monday night shift
        )

    def ids(at):
        with db.session() as session:
            return {r.participant_id for r in select_recipients(session, *DELFT, 500, at)}

    local = lambda *args: datetime(*args, tzinfo=AMS).astimezone(UTC)
    assert ids(local(2026, 11, 25, 14, 0)) == {worker.id}  # Wednesday afternoon
    assert ids(local(2026, 11, 25, 7, 59)) == set()  # before 08:00
    assert ids(local(2026, 11, 25, 18, 0)) == set()  # the end is exclusive
    assert ids(local(2026, 11, 28, 10, 0)) == set()  # Saturday
    assert ids(local(2026, 7, 1, 8, 30)) == {worker.id}  # summer time: local, not UTC
    assert ids(local(2026, 11, 23, 23, 0)) == {night.id}  # Monday 23:00
    assert ids(local(2026, 11, 24, 5, 59)) == {night.id}  # still Monday's shift
    assert ids(local(2026, 11, 24, 23, 0)) == set()  # Tuesday night: no shift


def test_time_windows_are_read_in_the_platforms_time_zone(db, settings):
    """A platform serving the Caribbean Netherlands (settings.timezone America/Curacao) reads a
    work address's 08:00-18:00 in Curacao time, when choosing and when planning the wave."""
    from actions.wave import plan_wave
    from config.clock import FakeClock
    from db.models import Action, ActionStatus, ControlRoom, Delivery, IncidentType

    with db.transaction() as session:
        worker = add_participant(
            session,
            None,
            phones=[("+31612000020", PhoneKind.MOBILE, True)],
            work=offset(*DELFT, 100, 0),
            work_window=(WEEKDAYS, 8 * 60, 18 * 60),
        )
    curacao = "America/Curacao"  # UTC-4 all year
    afternoon_there = datetime(2026, 11, 25, 14, 0, tzinfo=ZoneInfo(curacao)).astimezone(UTC)
    with db.session() as session:
        here = select_recipients(session, *DELFT, 500, afternoon_there)  # 19:00 in Amsterdam
        there = select_recipients(session, *DELFT, 500, afternoon_there, timezone=curacao)
    assert here == [] and [r.participant_id for r in there] == [worker.id]

    clock = FakeClock(afternoon_there)
    with db.transaction() as session:
        room = ControlRoom(name="Caribisch Nederland", region="Bonaire", transfer_target="+5997178000")
        session.add(room)
        session.flush()
        action = Action(
            control_room_id=room.id,
            incident_type=IncidentType.SUSPECT,
            lat=DELFT[0],
            lon=DELFT[1],
            radius_m=500,
            channels=[],
            status=ActionStatus.RUNNING,
            description={"clothing": "rode jas"},
            free_text="",
        )
        session.add(action)
    with db.session() as session:  # plan_wave commits itself
        action = session.scalars(select(Action).where(Action.control_room_id == room.id)).one()
        planned = plan_wave(session, action, clock, settings.model_copy(update={"timezone": curacao}))
        targets = session.scalars(select(Delivery.target).where(Delivery.action_id == action.id)).all()
    assert planned == 1 and targets == ["+31612000020"]


def test_opted_out_and_paused_participants_are_left_out(db):
    phone = iter(f"+3161200{n:04d}" for n in range(100))
    at = WEDNESDAY_AFTERNOON
    with db.transaction() as session:
        mk = lambda **kw: add_participant(
            session, offset(*DELFT, 50, 50), phones=[(next(phone), PhoneKind.MOBILE, True)], **kw
        )
        active = mk()
        mk(status=ParticipantStatus.OPTED_OUT)
        mk(status=ParticipantStatus.PAUSED)
        mk(status=ParticipantStatus.PAUSED, paused_until=at + timedelta(days=1))
        pause_over = mk(status=ParticipantStatus.PAUSED, paused_until=at - timedelta(minutes=1))
        mk(paused_until=at + timedelta(hours=2))
        mk(status=ParticipantStatus.OPTED_OUT, paused_until=at - timedelta(days=1))
    with db.session() as session:
        got = select_recipients(session, *DELFT, 500, at)
    assert sorted(r.participant_id for r in got) == sorted([active.id, pause_over.id])


def test_duplicate_targets_get_one_delivery_at_the_nearest_address(db):
    shared = ("+31152123456", PhoneKind.LANDLINE, True)
    with db.transaction() as session:
        parent = add_participant(session, offset(*DELFT, 300, 0), phones=[shared])
        child = add_participant(
            session,
            offset(*DELFT, 300, 0),
            phones=[shared, ("+31612345678", PhoneKind.MOBILE, True)],
            channels=["voice", "sms", "email"],
            email="Kind@Example.org",
        )
        roommate = add_participant(
            session, offset(*DELFT, 100, 0), channels=["email"], email="kind@example.org"
        )
        commuter = add_participant(
            session,
            offset(*DELFT, 600, 0),
            work=offset(*DELFT, 150, 0),
            phones=[("+31612999999", PhoneKind.MOBILE, True)],
        )
    with db.session() as session:
        got = select_recipients(session, *DELFT, 1000, WEDNESDAY_AFTERNOON)
    targets = [(r.channel.value, r.target) for r in got]
    assert len(targets) == len(set(targets))
    landline = [r for r in got if r.target == shared[0]]
    assert len(landline) == 1 and landline[0].participant_id == parent.id  # same spot: lower id
    emails = [r for r in got if r.channel is Channel.EMAIL]
    assert [(r.participant_id, r.target) for r in emails] == [(roommate.id, "kind@example.org")]
    commute = [r for r in got if r.participant_id == commuter.id]
    assert len(commute) == 1
    assert commute[0].address_id == commuter.addresses[1].id  # the nearer work address
    assert commute[0].distance_m == pytest.approx(150, abs=1)
    # The child asked for voice and sms: one call and one text to the mobile.
    assert {(r.channel, r.target) for r in got if r.participant_id == child.id} == {
        (Channel.VOICE, "+31612345678"),
        (Channel.SMS, "+31612345678"),
    }


def test_channel_choice_verification_and_filter(db):
    with db.transaction() as session:
        p = add_participant(
            session,
            offset(*DELFT, 10, 0),
            channels=["sms", "email"],
            phones=[
                ("+31152000001", PhoneKind.LANDLINE, True),  # sms never goes to a landline
                ("+31612000001", PhoneKind.MOBILE, True),
                ("+31612000002", PhoneKind.MOBILE, False),  # unverified
            ],
            email="a@example.org",
        )
        add_participant(
            session,
            offset(*DELFT, 20, 0),
            channels=["email"],
            email="unverified@example.org",
            email_verified=False,
        )
    with db.session() as session:
        everything = select_recipients(session, *DELFT, 100, WEDNESDAY_AFTERNOON)
        only_sms = select_recipients(session, *DELFT, 100, WEDNESDAY_AFTERNOON, ["sms"])
    assert [(r.channel, r.target) for r in everything] == [
        (Channel.SMS, "+31612000001"),
        (Channel.EMAIL, "a@example.org"),
    ]
    assert [r.target for r in only_sms] == ["+31612000001"]
    assert all(r.participant_id == p.id for r in everything)
    assert count_by_channel(everything) == {"voice": 0, "sms": 1, "email": 1}


def test_bad_requests_are_refused(db):
    with db.session() as session:
        with pytest.raises(SelectionError, match="radius"):
            select_recipients(session, *DELFT, 0, WEDNESDAY_AFTERNOON)
        with pytest.raises(SelectionError, match="latitude"):
            select_recipients(session, 95.0, 4.0, 100, WEDNESDAY_AFTERNOON)
        with pytest.raises(SelectionError, match="timezone"):
            select_recipients(session, *DELFT, 100, datetime(2026, 11, 25, 13, 0))
        with pytest.raises(SelectionError, match="unknown channel 'fax'"):
            select_recipients(session, *DELFT, 100, WEDNESDAY_AFTERNOON, ["fax"])


def test_index_follows_address_changes(db):
    with db.transaction() as session:
        p = add_participant(
            session, offset(*DELFT, 5000, 0), phones=[("+31612000077", PhoneKind.MOBILE, True)]
        )
    with db.transaction() as session:
        assert select_recipients(session, *DELFT, 1000, WEDNESDAY_AFTERNOON) == []
        address = session.get(Address, p.addresses[0].id)
        address.lat, address.lon = offset(*DELFT, 100, 0)
    with db.transaction() as session:
        assert [r.participant_id for r in select_recipients(session, *DELFT, 1000, WEDNESDAY_AFTERNOON)] == [
            p.id
        ]
        session.delete(session.get(Address, p.addresses[0].id))
    with db.session() as session:
        assert select_recipients(session, *DELFT, 1000, WEDNESDAY_AFTERNOON) == []


def test_selection_uses_the_spatial_index(db):
    from participants.selection import _candidate_query, bounding_box

    box = bounding_box(*DELFT, 2000)
    query = _candidate_query(db.engine.dialect.name, box)
    params = {
        "south": box.south,
        "north": box.north,
        "west": box.west,
        "east": box.east,
        "at": WEDNESDAY_AFTERNOON,
    }
    with db.engine.connect() as conn:
        compiled = str(query.compile(conn))
        if db.is_sqlite:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + compiled,
                tuple(
                    params[k] if k != "at" else "2026-11-25 13:00:00.000000"
                    for k in query.compile(conn).positiontup
                ),
            ).all()
            details = [row[-1] for row in plan]
            # Range scans on the grid's clustered key; no other table is read.
            assert len(details) == 1 and details[0].startswith(
                "SEARCH selection_grid USING PRIMARY KEY (lat_cell=? AND lon_cell>? AND lon_cell<?)"
            ), details
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a test table is tiny
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            plan = conn.execute(text("EXPLAIN " + str(query)), params).scalars().all()
            assert "Index Only Scan using selection_grid_cells" in plan[0], plan
            assert not any("participant" in line or "phone_number" in line for line in plan), plan


def test_grid_and_its_triggers_exist_at_head(db):
    """A later batch rebuild of a table would drop the triggers; this catches it."""
    from participants.spatial_index import sqlite_grid_ready
    from participants.spatial_index_pg import pg_grid_ready

    with db.engine.connect() as conn:
        assert sqlite_grid_ready(conn) if db.is_sqlite else pg_grid_ready(conn)


def test_index_stays_in_sync_with_every_kind_of_change(db):
    """Changes to participants, phones and addresses after insert reach the selection."""
    rng = random.Random(7)
    with db.transaction() as session:
        random_population(session, rng, n=150)
    with db.transaction() as session:
        people = session.scalars(select(Participant).order_by(Participant.id)).all()
        # Disjoint groups, so that no trigger's refresh hides another trigger's absence.
        for p in people[0::3]:
            p.status = rng.choice(list(ParticipantStatus))
            p.channels = rng.choice([["voice"], ["sms"], ["email"], ["voice", "sms", "email"]])
            p.email_verified = not p.email_verified
            if rng.random() < 0.3:
                p.email = f"nieuw{p.id}@example.org"
        for p in people[1::6]:
            for phone in p.phones:
                phone.verified = not phone.verified
        for p in people[4::6]:
            if p.phones:
                p.phones.remove(p.phones[0])
        for p in people[5::12]:
            p.phones.append(PhoneNumber(e164=f"+3161{p.id:07d}", kind=PhoneKind.MOBILE, verified=True))
        for p in people[2::6]:
            for address in p.addresses:
                address.lat, address.lon = offset(*DELFT, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        session.flush()
        for p in people[3::7]:
            session.delete(p)
        session.execute(text("UPDATE participant SET status = 'opted_out' WHERE id % 11 = 0"))
    with db.session() as session:
        for radius in (500, 1500, 3000):
            got = select_recipients(session, *DELFT, radius, WEDNESDAY_AFTERNOON)
            want = reference_selection(session, *DELFT, radius, WEDNESDAY_AFTERNOON)
            assert [(r.participant_id, r.address_id, r.channel, r.target) for r in got] == [
                (w.participant_id, w.address_id, w.channel, w.target) for w in want
            ]
        assert len(got) > 50
