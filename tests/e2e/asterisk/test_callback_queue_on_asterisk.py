"""The call-back line under load on the real testbed: the control room's call queue (app_queue),
five sipp callers and one sipp centralist (the other two desks marked busy: paused).

One scenario, several checks (the callers overlap, as they do after an alert):
- three callers who wait reach the centralist in the order they came, one with a withheld
  caller ID; each row says connected, who answered and how long the caller waited;
- a caller who hangs up while waiting is a missed row with their number and their wait;
- a caller who presses 1 while waiting records instead and hangs up while recording: the
  partial recording is kept and the row says recorded;
- the console's call-back of the missed caller rings the centralist's desk first, then the
  caller.
Runs on PostgreSQL only (the production database; the flow's queries are tested on both in
tests/callback_line).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from asterisk_e2e import queue_caller, wait_until_no_channels
from sqlalchemy import select

from bench.asterisk import bench_settings
from callback_line import line_states
from callback_line.call_back import call_back_missed
from config.clock import SystemClock
from db.database import Database
from db.models import ControlRoom, DeliveryState, Operator, Sighting
from dialer.backends.desk_phones import AsteriskDeskPhones
from ivr.asterisk_audio import AsteriskSounds
from ivr.callback_flow import action_name
from ivr.flow import CallEnv, Speech
from ivr.prompt_texts import is_package_prompt, prompt_text
from prompts.ivr_prompts import ivr_prompt_text
from tests.support import testbed
from tests.support.asterisk_stack import AsteriskStack, prerender_prompts, seed_alert_wave

pytestmark = [pytest.mark.e2e, pytest.mark.asterisk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SHARE = Path("/var/lib/burgernet")
QUEUE = "burgernet-callback"
OTHER_DESKS = ("PJSIP/burgernet-centralist2", "PJSIP/burgernet-centralist3")


@pytest.fixture
def queue_settings(settings, tmp_path, asterisk_testbed):
    wait_until_no_channels()
    return bench_settings(settings, channels=30, cps=20, connections=1, share=SHARE, instance=tmp_path / "i")


@pytest.fixture
def queue_db(database_url):
    db = Database(database_url, pool_size=20, max_overflow=10)
    yield db
    db.dispose()


def seconds_of(settings, *, key: str | None = None, text: str = "") -> float:
    if key and not is_package_prompt(key):
        key, text = None, prompt_text(key, settings)
    return AsteriskSounds(settings).rendered(Speech(text=text, key=key)).duration_s


def until_queued_s(settings, db, action_id: int) -> float:
    """From the answer to the moment the caller is in the queue: welcome, the action, the
    position, the hold announcement (rendered now, so the calls find them cached)."""
    with db.session() as s:
        name = action_name(
            CallEnv(session=s, clock=SystemClock(), settings=settings), {"action_id": action_id}
        )
    position = ivr_prompt_text("callback_queue_position", settings, position=1)
    return (
        seconds_of(settings, key="callback_welcome")
        + seconds_of(settings, key="callback_one_action")
        + seconds_of(settings, text=name)
        + seconds_of(settings, text=position)
        + seconds_of(settings, key="callback_queue_hold")
    )


def invites(log: Path) -> list[tuple[datetime, str, str]]:
    """(time, request URI user, From user) of every INVITE a sipp -trace_msg log received."""
    text = log.read_text(errors="replace") if log.exists() else ""
    out = []
    for block in re.finditer(r"-{20,} (\S+ \S+)\n(.*?)(?=\n-{20,} |\Z)", text, re.S):
        stamp, body = block.groups()
        invite = re.search(r"^INVITE sip:\+?([^@;\s]+)@", body, re.M)
        sender = re.search(r"^From:[^<\n]*<sip:\+?([^@;>\s]+)@", body, re.M)
        if invite and "received" in body[:80]:
            out.append((datetime.fromisoformat(stamp), invite.group(1), sender.group(1) if sender else ""))
    return out


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_callers_queue_in_order_and_nobody_is_lost(queue_settings, queue_db, tmp_path):
    settings, db = queue_settings, queue_db
    numbers = ["+31611000001", "+31611000002", "+31611000004", "+31611000005"]
    wave = seed_alert_wave(db, numbers, state=DeliveryState.COMPLETED)
    with db.transaction() as s:
        s.get(ControlRoom, wave.room_id).callback_queue = QUEUE
    prerender_prompts(settings, [])
    queued_s = until_queued_s(settings, db, wave.action_id)
    record_s = seconds_of(settings, key="callback_record")
    desks = AsteriskDeskPhones(settings)

    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    callers = [
        # label, caller, start after (s), options
        ("a", "31611000001", 0.0, {"speak_after_ms": ms(queued_s + 2), "stay_ms": 90_000}),
        ("b", "31611000002", 1.0, {"speak_after_ms": ms(queued_s + 2), "stay_ms": 90_000}),
        ("c", "anonymous", 2.0, {"speak_after_ms": ms(queued_s + 2), "stay_ms": 90_000}),
        # hangs up while A is talking, still waiting behind B and C
        ("d", "31611000004", 3.0, {"speak_after_ms": ms(queued_s + 2), "stay_ms": 1000}),
        # presses 1 in the queue, records, hangs up halfway through the recording
        (
            "e",
            "31611000005",
            4.0,
            {
                "digit": "1",
                "digit_at_ms": ms(queued_s + 7),
                "speak_after_ms": ms(record_s + 1.5),
                "stay_ms": 1500,
            },
        ),
    ]
    for desk in OTHER_DESKS:  # the other desks are busy: only "centralist" takes callers
        desks.set_presence(desk, QUEUE, False, "e2e")
    try:
        with (
            testbed.centralist_phone(tmp_path, hangup_after_ms=6_000),
            testbed.phone_farm(tmp_path, trace_messages=True, hangup_after_ms=8_000) as phones,
            AsteriskStack(settings, db) as stack,
        ):
            asterisk = settings.asterisk
            testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
            started = time.monotonic()
            calls = []
            for n, (label, caller, after, options) in enumerate(callers):
                time.sleep(max(0.0, started + after - time.monotonic()))
                call = queue_caller(
                    tmp_path, label=label, caller=caller, port=5091 + n, media_port=6300 + 20 * n, **options
                )
                calls.append(call.start())
            try:
                for call in calls:
                    call.wait(timeout_s=150)
            finally:
                for call in calls:
                    call.stop()
            wait_for(lambda: stack.server.active_calls == 0, 20, "the IVR to finish every call")

            with db.session() as s:
                rows = {r.caller_number: r for r in s.scalars(select(Sighting).order_by(Sighting.id))}
                summary = {k: (r.line_state, r.wait_s, r.transfer_result) for k, r in rows.items()}
                assert len(s.scalars(select(Sighting)).all()) == 5 and "+31611000004" in rows, summary

            # The call-back button: the desk rings first, then the missed caller.
            with db.session() as s:
                operator = s.get(Operator, wave.operator_id)
                missed = rows["+31611000004"]
                call_back_missed(s, desks, SystemClock(), operator, missed.id, "127.0.0.1")
            phones_log = tmp_path / "phones.messages.log"
            callee = wait_for(
                lambda: [i for i in invites(phones_log) if i[1] == "31611000004"],
                40,
                "the caller's phone to ring",
            )
            phones.stop()
    finally:
        for desk in OTHER_DESKS:
            desks.set_presence(desk, QUEUE, True, "e2e")

    outcomes = dict(stack.server.outcomes)
    desk_invites = invites(tmp_path / "centralist.messages.log")
    # In the order they came; the withheld caller too.
    assert [sender for _at, _to, sender in desk_invites[:3]] == ["31611000001", "31611000002", "anonymous"], (
        desk_invites,
        outcomes,
    )
    for number in ("+31611000001", "+31611000002", None):
        row = rows[number]
        assert row.line_state == line_states.CONNECTED, (number, row.line_state, row.transfer_result)
        assert row.transferred and row.answered_by == "PJSIP/burgernet-centralist"
        assert row.wait_s is not None and row.action_id == wave.action_id
    assert rows[None].participant_id is None  # withheld: not identified, still on record
    assert rows["+31611000002"].wait_s > rows["+31611000001"].wait_s

    gave_up = rows["+31611000004"]
    assert gave_up.line_state == line_states.MISSED, (gave_up.line_state, gave_up.transfer_result)
    assert gave_up.wait_s and gave_up.wait_s > 2 and gave_up.ended_at is not None

    recorder = rows["+31611000005"]
    assert recorder.line_state == line_states.RECORDED, (recorder.line_state, recorder.recording_error)
    assert recorder.recording_status in ("complete", "truncated") and recorder.duration_s > 1
    assert (settings.recordings_dir / recorder.recording_path).stat().st_size > 8000

    # The desk's INVITE for the call-back (caller ID: the number it will call) came first.
    desk_leg = [i for i in desk_invites if i[2] == "31611000004"]
    assert desk_leg and desk_leg[0][0] < callee[0][0], (desk_invites, callee)
    with db.session() as s:
        assert s.get(Sighting, gave_up.id).called_back_by_id == wave.operator_id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_actions_own_centralist_rings_first_and_an_unreachable_desk_falls_back_to_the_queue(
    queue_settings, queue_db, tmp_path
):
    """A room that rings the action's own centralist first: the first caller is put through to
    the desk of the centralist who started the action (not through the queue); when that desk
    cannot be dialled (an endpoint outside the allowed transfer endpoints: the transfer is
    refused before Dial), the next caller joins the queue."""
    settings, db = queue_settings, queue_db
    wave = seed_alert_wave(db, ["+31611000011", "+31611000012"], state=DeliveryState.COMPLETED)
    with db.transaction() as s:
        room = s.get(ControlRoom, wave.room_id)
        room.callback_queue, room.callback_own_centralist_first = QUEUE, True
    prerender_prompts(settings, [])
    desks = AsteriskDeskPhones(settings)
    for desk in OTHER_DESKS:
        desks.set_presence(desk, QUEUE, False, "e2e")
    try:
        with (
            testbed.centralist_phone(tmp_path, hangup_after_ms=4_000),
            AsteriskStack(settings, db) as stack,
        ):
            asterisk = settings.asterisk
            testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
            for n, caller in enumerate(("31611000011", "31611000012")):
                if n == 1:  # the action's centralist now sits at a desk that may not be dialled
                    with db.transaction() as s:
                        s.get(Operator, wave.operator_id).transfer_target = OTHER_DESKS[0]
                call = queue_caller(
                    tmp_path,
                    label=f"own-{n}",
                    caller=caller,
                    port=5091 + n,
                    media_port=6300 + 20 * n,
                    speak_after_ms=60_000,
                    stay_ms=90_000,
                ).start()
                try:
                    call.wait(timeout_s=90)
                finally:
                    call.stop()
                wait_for(lambda: stack.server.active_calls == 0, 20, "the IVR to finish the call")
    finally:
        for desk in OTHER_DESKS:
            desks.set_presence(desk, QUEUE, True, "e2e")

    with db.session() as s:
        rows = {r.caller_number: r for r in s.scalars(select(Sighting).order_by(Sighting.id))}
    direct, queued = rows["+31611000011"], rows["+31611000012"]
    assert (direct.line_state, direct.transfer_result) == (line_states.CONNECTED, "own:answered")
    assert direct.answered_by == "PJSIP/burgernet-centralist" and direct.queued_at is None
    assert (queued.line_state, queued.transfer_result) == (line_states.CONNECTED, "queue:answered")
    assert queued.queued_at is not None and queued.answered_by == "PJSIP/burgernet-centralist"
    assert len(invites(tmp_path / "centralist.messages.log")) == 2
