"""The whole telephony side on the real testbed: dialer worker + AMI backend + FastAGI IVR, with
sipp phones, centralist and caller. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from asterisk_e2e import wait_until_no_channels, waiting_caller
from sqlalchemy import select

from bench.asterisk import bench_settings
from config.clock import SystemClock
from db.database import Database
from db.models import (
    Delivery,
    DeliveryEvent,
    DeliveryKind,
    DeliveryState,
    Participant,
    ParticipantStatus,
    PhoneKind,
    Sighting,
)
from deliveries.call_backend import CallRequest
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import Speech
from tests.support import testbed
from tests.support.asterisk_stack import (
    DEFAULT_VOICE_TEXT,
    AsteriskStack,
    delivery_states,
    prerender_prompts,
    seed_alert_wave,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asterisk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

S = DeliveryState
SHARE = Path("/var/lib/burgernet")
FINAL = {S.COMPLETED, S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE}


@pytest.fixture
def stack_settings(settings, tmp_path, asterisk_testbed):
    wait_until_no_channels()
    base = bench_settings(
        settings, channels=30, cps=20, connections=2, share=SHARE, instance=tmp_path / "instance"
    )
    dialer = base.dialer.model_copy(
        update={
            "dial_timeout_s": 4,
            "busy_retry_delays_s": [2],
            "no_answer_retry_delays_s": [],
        }
    )
    return base.model_copy(update={"dialer": dialer})


@pytest.fixture
def stack_db(database_url):
    db = Database(database_url, pool_size=40, max_overflow=10)
    yield db
    db.dispose()


def prompt_seconds(settings, *, key: str | None = None, text: str = "") -> float:
    return AsteriskSounds(settings).rendered(Speech(text=text, key=key)).duration_s


def test_wave_lands_every_answer_digit_busy_no_answer_and_machine_on_its_row(
    stack_settings, stack_db, tmp_path
):
    plan: dict[str, str] = {}
    for i in range(16):
        plan[f"+3169000{i:04d}"] = "listen"
    for digit, count in (("1", 8), ("2", 6), ("3", 8), ("9", 6)):
        for i in range(count):
            plan[f"+31691{digit}0{i:04d}"] = f"press{digit}"
    for i in range(5):
        plan[f"+3169200{i:04d}"] = "no_answer"
    for i in range(4):
        plan[f"+3169300{i:04d}"] = "busy"
    for i in range(3):
        plan[f"+3169400{i:04d}"] = "machine"
    assert len(plan) >= 50
    wave = seed_alert_wave(stack_db, list(plan), voice_text=DEFAULT_VOICE_TEXT)
    prerender_prompts(stack_settings, [DEFAULT_VOICE_TEXT])
    # Digits count from the menu on: AMD (about 1.4 s), the alert, then into the menu prompt.
    alert_s = prompt_seconds(stack_settings, text=DEFAULT_VOICE_TEXT)
    dtmf_delay_ms = int(1400 + alert_s * 1000 + 1500)

    with (
        testbed.phone_farm(
            tmp_path, dtmf_delay_ms=dtmf_delay_ms, hangup_after_ms=dtmf_delay_ms + 25_000
        ) as phones,
        testbed.centralist_phone(tmp_path, hangup_after_ms=5_000),
        AsteriskStack(stack_settings, stack_db) as stack,
    ):
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = delivery_states(stack_db, wave.action_id)
            if all(state in FINAL for state in states.values()):
                break
            time.sleep(1)
        max_in_flight = stack.backend.in_flight()

    states = delivery_states(stack_db, wave.action_id)
    assert all(state in FINAL for state in states.values()), (states, phones.log_tail())
    assert max_in_flight == 0
    with stack_db.session() as s:
        rows = {d.target: d for d in s.scalars(select(Delivery).where(Delivery.action_id == wave.action_id))}
        events = {}
        for event in s.scalars(select(DeliveryEvent).order_by(DeliveryEvent.id)):
            events.setdefault(event.delivery_id, []).append(event.event)
        participants = {p.id: p for p in s.scalars(select(Participant))}
    wrong = []
    for number, behaviour in plan.items():
        row = rows[number]
        assert row.provider == "asterisk" and row.provider_id.startswith(f"bn-{row.id}-")
        expected = {
            "listen": (S.COMPLETED, ""),
            "press1": (S.COMPLETED, "1"),
            "press2": (S.COMPLETED, "2"),
            "press3": (S.COMPLETED, "3"),
            "press9": (S.COMPLETED, "9"),
            "no_answer": (S.NO_ANSWER, ""),
            "busy": (S.BUSY, ""),
            "machine": (S.MACHINE, ""),
        }[behaviour]
        got = (S(row.state), row.menu_choices[:1])
        if got != expected:
            wrong.append((number, behaviour, got, events.get(row.id)))
    assert not wrong, wrong

    for number, behaviour in plan.items():
        row = rows[number]
        if behaviour == "press2":
            assert row.transfer_requested
        if behaviour == "press3":
            assert row.acknowledged
        if behaviour == "press9":  # no confirmation pressed: still registered
            assert participants[row.participant_id].status == ParticipantStatus.ACTIVE
        if behaviour == "busy":  # busy, retried once after 2 s, busy again: final
            assert row.attempts == 2, events[row.id]
            assert events[row.id].count("retry.scheduled") == 1
            assert row.hangup_cause == "USER_BUSY"
        if behaviour == "no_answer":
            assert row.attempts == 1 and row.hangup_cause == "NO_ANSWER"
        if behaviour == "machine":
            assert row.finished_at is not None and row.answered_at is not None
        if behaviour in ("listen", "press1", "press3"):
            assert not row.transfer_requested
    # Choice 2 put participants through: the centralist's phone was rung.
    messages = (tmp_path / "centralist.messages.log").read_text(errors="replace")
    assert "INVITE sip:centralist@" in messages


def callback_seconds(settings, db, action_id: int) -> dict[str, float]:
    """How long each prompt of the call-back flow plays on the testbed (rendering them now,
    so the call finds them cached)."""
    from ivr.callback_flow import action_name
    from ivr.flow import CallEnv
    from ivr.prompt_texts import is_package_prompt, prompt_text

    def spoken(key: str) -> float:
        if is_package_prompt(key):
            return prompt_seconds(settings, key=key)
        return prompt_seconds(settings, text=prompt_text(key, settings))

    with db.session() as s:
        name = action_name(
            CallEnv(session=s, clock=SystemClock(), settings=settings), {"action_id": action_id}
        )
    seconds = {
        key: spoken(key)
        for key in (
            "callback_welcome",
            "callback_one_action",
            "callback_transfer_or_record",
            "callback_record",
            "callback_unreachable_record",
            "callback_thanks",
            "callback_saved_bye",
        )
    }
    # Until the offer "doorverbonden ... druk dan 1" starts.
    seconds["until_offer"] = (
        seconds["callback_welcome"] + seconds["callback_one_action"] + prompt_seconds(settings, text=name)
    )
    return seconds


def seed_callback_caller(db, caller: str, *, transfer_target: str = "PJSIP/burgernet-centralist"):
    """The caller was alerted for one running action; another action runs that they were not
    alerted for (so the flow must pick theirs, not the newest)."""
    clock = SystemClock()
    theirs = seed_alert_wave(
        db, [caller], state=S.COMPLETED, clock=_Shifted(clock, -600), transfer_target=transfer_target
    )
    seed_alert_wave(db, ["+31600000001"], state=S.COMPLETED)
    return theirs


def only_sighting(db, outcomes) -> Sighting:
    with db.session() as s:
        sightings = s.scalars(select(Sighting)).all()
    assert len(sightings) == 1, (outcomes, sightings)
    return sightings[0]


def assert_recorded(settings, sighting: Sighting) -> None:
    assert sighting.recording_path, sighting
    audio = settings.recordings_dir / sighting.recording_path
    assert audio.exists() and audio.stat().st_size > 8000, sighting.recording_path
    assert sighting.duration_s and sighting.duration_s > 1


def test_call_back_caller_who_presses_1_records_the_sighting(stack_settings, stack_db, tmp_path):
    caller = "+31612345678"
    wave = seed_callback_caller(stack_db, caller)
    prerender_prompts(stack_settings, [])
    t = callback_seconds(stack_settings, stack_db, wave.action_id)

    with (
        testbed.centralist_phone(tmp_path, hangup_after_ms=60_000),
        AsteriskStack(stack_settings, stack_db) as stack,
    ):
        asterisk = stack_settings.asterisk
        testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
        # 1 pressed halfway through the offer's prompt + its 4 s wait.
        press_s = t["until_offer"] + (t["callback_transfer_or_record"] + 4) / 2 + 0.5
        call = testbed.callback_caller(
            tmp_path,
            caller=caller.lstrip("+"),
            digit="1",
            digit_at_ms=int(press_s * 1000),
            speak_after_ms=int(t["callback_record"] * 1000) + 1500,
            stay_ms=int((4 + t["callback_thanks"] + t["callback_saved_bye"] + 10) * 1000),
        )
        with call:
            exit_code = call.wait(timeout_s=120)
        assert exit_code == 0, call.log_tail()
        outcomes = dict(stack.server.outcomes)

    assert outcomes == {"completed": 1}, outcomes
    sighting = only_sighting(stack_db, outcomes)
    assert sighting.action_id == wave.action_id
    assert sighting.participant_id == wave.participants[caller]
    assert sighting.caller_number == caller
    assert_recorded(stack_settings, sighting)
    assert (sighting.transferred, sighting.transfer_result) == (False, None)
    messages = (tmp_path / "centralist.messages.log").read_text(errors="replace")
    assert "INVITE sip:centralist@" not in messages


def test_call_back_caller_who_waits_is_put_through_to_the_centralist(stack_settings, stack_db, tmp_path):
    caller = "+31612345678"
    wave = seed_callback_caller(stack_db, caller)
    prerender_prompts(stack_settings, [])
    t = callback_seconds(stack_settings, stack_db, wave.action_id)
    put_through_s = t["until_offer"] + t["callback_transfer_or_record"] + 4

    # The centralist answers, listens to the caller and hangs up; the IVR then ends the call.
    with (
        testbed.centralist_phone(tmp_path, hangup_after_ms=14_000),
        AsteriskStack(stack_settings, stack_db) as stack,
    ):
        asterisk = stack_settings.asterisk
        testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
        call = waiting_caller(
            tmp_path,
            caller=caller.lstrip("+"),
            speak_after_ms=int((put_through_s + 1.5) * 1000),
            stay_ms=30_000,
        )
        with call:
            exit_code = call.wait(timeout_s=120)
        assert exit_code == 0, call.log_tail()
        outcomes = dict(stack.server.outcomes)

    sighting = only_sighting(stack_db, outcomes)
    assert sighting.action_id == wave.action_id
    assert sighting.participant_id == wave.participants[caller]
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
    assert sighting.recording_path is None
    messages = (tmp_path / "centralist.messages.log").read_text(errors="replace")
    assert "INVITE sip:centralist@" in messages


def test_call_back_centralist_not_answering_leads_to_a_recording(stack_settings, stack_db, tmp_path):
    caller = "+31612345678"
    # The centralist's line is busy (a phone-farm number that answers 486).
    wave = seed_callback_caller(stack_db, caller, transfer_target="+31693000001")
    prerender_prompts(stack_settings, [])
    t = callback_seconds(stack_settings, stack_db, wave.action_id)
    put_through_s = t["until_offer"] + t["callback_transfer_or_record"] + 4

    with (
        testbed.phone_farm(tmp_path, hangup_after_ms=30_000),
        AsteriskStack(stack_settings, stack_db) as stack,
    ):
        asterisk = stack_settings.asterisk
        testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
        call = waiting_caller(
            tmp_path,
            caller=caller.lstrip("+"),
            speak_after_ms=int((put_through_s + 1 + t["callback_unreachable_record"] + 2) * 1000),
            stay_ms=int((4 + t["callback_thanks"] + t["callback_saved_bye"] + 10) * 1000),
        )
        with call:
            exit_code = call.wait(timeout_s=120)
        assert exit_code == 0, call.log_tail()
        outcomes = dict(stack.server.outcomes)

    assert outcomes == {"completed": 1}, outcomes
    sighting = only_sighting(stack_db, outcomes)
    assert sighting.action_id == wave.action_id
    assert sighting.participant_id == wave.participants[caller]
    assert (sighting.transferred, sighting.transfer_result) == (False, "BUSY")
    assert_recorded(stack_settings, sighting)


def test_an_ivr_error_sends_the_call_to_the_fallback_not_dead_air(stack_settings, stack_db, tmp_path):
    # An alert row without its action: the alert flow cannot run.
    with stack_db.transaction() as s:
        row = Delivery(
            action_id=None,
            kind=DeliveryKind.ALERT,
            channel="voice",
            target="+31690000777",
            phone_kind=PhoneKind.MOBILE,
            rank=0,
            state=S.DIALING,
            attempts=1,
        )
        s.add(row)
        s.flush()
        delivery_id = row.id
    with (
        testbed.phone_farm(tmp_path, hangup_after_ms=30_000),
        AsteriskStack(stack_settings, stack_db) as stack,
    ):
        call_id = stack.backend.originate(
            CallRequest(delivery_id, "+31690000777", "0343529850", timeout_s=5, variables={"attempt": "1"})
        )
        with stack_db.transaction() as s:  # as the dialer does: the IVR runs only its own call
            s.get(Delivery, delivery_id).provider_id = call_id
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if delivery_states_by_id(stack_db, delivery_id) not in (S.DIALING, S.RINGING, S.ANSWERED):
                break
            time.sleep(0.5)
        outcomes = dict(stack.server.outcomes)
    assert outcomes.get("fallback") == 1, outcomes
    # The apology is not the alert: the call is no "completed" one, and it is retried.
    with stack_db.session() as s:
        row = s.get(Delivery, delivery_id)
        events = [
            e.event for e in s.scalars(select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id))
        ]
    assert row.hangup_cause == "IVR_FALLBACK" and "call.cut" in events, events
    assert S(row.state) == S.QUEUED and "call.completed" not in events, events


def test_ami_links_dropped_mid_wave_lose_and_double_count_nothing(stack_settings, stack_db, tmp_path):
    plan = {}
    for i in range(6):  # interleaved, so each kind is in flight when the links drop
        plan[f"+3169200{i:04d}"] = S.NO_ANSWER
        plan[f"+3169300{i:04d}"] = S.BUSY
        plan[f"+3169000{i:04d}"] = S.COMPLETED
    wave = seed_alert_wave(stack_db, list(plan), voice_text=DEFAULT_VOICE_TEXT)
    prerender_prompts(stack_settings, [DEFAULT_VOICE_TEXT])
    dialer = stack_settings.dialer.model_copy(update={"cps": 5, "failed_retry_delays_s": [2, 2, 2]})
    settings = stack_settings.model_copy(update={"dialer": dialer})
    others = set(manager_sessions())
    # Deaf for 3 s after the drop: calls end, and originates fail, while the links are down.
    with (
        testbed.phone_farm(tmp_path, hangup_after_ms=8_000),
        AsteriskStack(settings, stack_db, backend_options={"reconnect_delays_s": (3.0, 1.0)}) as stack,
    ):
        time.sleep(2.0)
        ours = set(manager_sessions()) - others
        assert len(ours) == 1 + settings.asterisk.ami_connections
        for fd in ours:
            testbed.asterisk_cli(f"manager kick session {fd}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = delivery_states(stack_db, wave.action_id)
            if all(state in FINAL for state in states.values()):
                break
            time.sleep(1)
        reconnects, reconciled = stack.backend.reconnects, stack.backend.reconciled

    assert reconnects >= 1 + settings.asterisk.ami_connections
    assert reconciled >= 1  # some calls ended while nobody listened, and were settled
    with stack_db.session() as s:
        rows = {d.target: d for d in s.scalars(select(Delivery).where(Delivery.action_id == wave.action_id))}
        log: dict[int, list[str]] = {}
        for event in s.scalars(select(DeliveryEvent).order_by(DeliveryEvent.id)):
            log.setdefault(event.delivery_id, []).append(event.event)
    for number, expected in plan.items():
        row = rows[number]
        events = log[row.id]
        assert S(row.state) == expected, (number, events)
        assert "dialer.reconciled" not in events, (number, events)  # no outcome unknown
        ends = [e for e in events if e in ("call.completed", "call.busy", "call.no_answer")]
        # One end per call placed: nothing lost, nothing counted twice. A claim the dialer gave
        # back because no link was up to originate it (dialer.unclaimed) placed no call.
        placed = events.count("dialer.claimed") - events.count("dialer.unclaimed")
        assert len(ends) == placed - events.count("call.failed"), (number, events)


def manager_sessions() -> list[str]:
    out = testbed.asterisk_cli("manager show connected")
    return re.findall(r"^\s*burgernet\s+\S+\s+\d+\s+\d+\s+(\d+)", out, re.MULTILINE)


def delivery_states_by_id(db, delivery_id: int) -> S:
    with db.session() as s:
        return S(s.get(Delivery, delivery_id).state)


class _Shifted:
    """A clock some seconds off, to make one action older than another."""

    def __init__(self, clock, seconds: float):
        self.clock = clock
        self.seconds = seconds

    def now(self):
        return self.clock.now() + timedelta(seconds=self.seconds)

    def monotonic(self):
        return self.clock.monotonic()
