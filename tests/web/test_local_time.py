"""One time zone, the control room's, written alike everywhere (issue 13, item 6): a moment
just after midnight local time (still the day before in UTC) shows the same date and time on
the console's list and action page, on the evaluation page, in its CSV export and in the
spoken description of the call-back line; a paused participant's date is the same in the
confirmation and on the overview."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from console_testing import csrf_from, login

from callback_line.caller import describe_action
from config.local_time import format_moment, local_date, start_of_day
from db.models import Action, ActionStatus, IncidentType, Outcome, Participant

# 23:30 UTC on 28 November is 00:30 on 29 November in Amsterdam (CET, UTC+1).
STARTED = datetime(2026, 11, 28, 23, 30, 5, tzinfo=UTC)
ENDED = datetime(2026, 11, 29, 0, 10, tzinfo=UTC)
TZ = "Europe/Amsterdam"


@pytest.mark.parametrize(
    "moment, written",
    [
        (STARTED, "29-11-2026 00:30"),
        # The spring-forward night: 01:59 CET is followed by 03:00 CEST.
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "29-03-2026 01:59"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29-03-2026 03:00"),
        # The autumn night: 02:30 happens twice, an hour apart.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25-10-2026 02:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25-10-2026 02:30"),
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), "25-10-2026 03:30"),
    ],
)
def test_moments_are_written_in_the_control_rooms_zone(moment, written):
    assert format_moment(moment, TZ, "datetime") == written


def test_a_picked_date_comes_back_as_the_same_date():
    for day in (date(2026, 12, 5), date(2026, 3, 29), date(2026, 10, 25)):
        assert local_date(start_of_day(day, TZ), TZ) == day
    with pytest.raises(ValueError):
        format_moment(datetime(2026, 12, 5, 0, 0), TZ)  # naive: which zone would it be?


def test_the_same_start_time_on_console_evaluation_export_and_phone(app, client, db, staff, clock):
    clock.advance((ENDED - clock.now()).total_seconds() + 3600)
    with db.transaction() as s:
        action = Action(
            control_room_id=staff.control_room_id,
            incident_type=IncidentType.SUSPECT,
            description={"gender": "male"},
            voice_text="x",
            lat=52.0116,
            lon=4.3571,
            radius_m=1000,
            channels=["sms"],
            status=ActionStatus.ENDED,
            outcome=Outcome.ARRESTED,
            started_at=STARTED,
            ended_at=ENDED,
            location_label="Markt, Delft",
        )
        s.add(action)
        s.flush()
        action_id = action.id
        spoken = describe_action(action, TZ)
    assert "van 0 uur 30" in spoken

    assert login(client, "supervisor").status_code == 302
    listed = client.get("/").get_data(as_text=True)
    assert "29-11-2026 00:30" in listed and "28-11-2026" not in listed
    page = client.get(f"/actions/{action_id}").get_data(as_text=True)
    assert "29-11-2026 00:30:05" in page and "29-11-2026 01:10:00" in page

    # The local day 29 November holds the action, though it began on the 28th in UTC.
    evaluation = client.get("/evaluatie/?van=2026-11-29&tot=2026-11-29").get_data(as_text=True)
    assert "29-11-2026 00:30" in evaluation
    exported = client.get("/evaluatie/export/acties.csv?van=2026-11-29&tot=2026-11-29").get_data(as_text=True)
    row = next(line for line in exported.splitlines() if line.startswith(f"{action_id};"))
    assert "2026-11-29 00:30:05;2026-11-29 01:10:00" in row
    earlier = client.get("/evaluatie/export/acties.csv?van=2026-11-28&tot=2026-11-28").get_data(as_text=True)
    assert not [line for line in earlier.splitlines() if line.startswith(f"{action_id};")]


def test_a_pause_is_confirmed_and_shown_with_the_date_picked(app, client, db, clock):
    clock.advance((STARTED - clock.now()).total_seconds())  # 00:30 on 29 November, local
    with db.transaction() as s:
        person = Participant(name="Jan Jansen", birth_year=1975, email="jan@example.nl", channels=["email"])
        s.add(person)
        s.flush()
        person_id = person.id
    with client.session_transaction() as sess:
        sess["participant_id"] = person_id
        sess["participant_seen"] = clock.now().isoformat()
    overview = client.get("/mijn/overzicht").get_data(as_text=True)
    assert 'min="2026-11-30"' in overview  # tomorrow in Amsterdam, not in UTC
    token = csrf_from(overview)
    page = client.post(
        "/mijn/pauze", data={"until": "2026-12-05", "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "U krijgt geen oproepen tot 05-12-2026." in page
    assert re.search(r"\(tot 05-12-2026\)", page), "the overview names the date that was picked"
