"""What each participant of an alert wave really heard, on the real testbed with sipp phones
(dialer worker + AMI backend + FastAGI IVR, amd.conf and the dialplan as shipped).

One wave holds every case, so the PBX, the phones and the stack start once per database:
- a person who hangs up half a second after answering: answered, heard none, not reached;
- a 2 pressed in the middle of the message: put through at once (the menu never played);
- a person who answers in silence: taken for a person, hears the message and the menu;
- a person answering "Goedemiddag, met Jan de Vries": a person, not a machine;
- an answering machine: the message starts after its greeting and beep;
- a busy phone: USER_BUSY; every answered row NORMAL_CLEARING, with who hung up.
The figures are then recounted from the rows: "heard the message" next to "answered".
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from asterisk_e2e import wait_until_no_channels
from sqlalchemy import select

from actions.figures import figures
from bench.asterisk import bench_settings
from db.database import Database
from db.models import Action, Delivery, DeliveryEvent, DeliveryState, HangupBy, MessageHeard
from ivr.asterisk_audio import AsteriskSounds
from ivr.flow import Speech
from ivr.prompt_texts import prompt_text
from tests.support import testbed
from tests.support.asterisk_stack import (
    AsteriskStack,
    delivery_states,
    prerender_prompts,
    seed_alert_wave,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asterisk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

S = DeliveryState
SHARE = Path("/var/lib/burgernet")
FINAL = {S.COMPLETED, S.BUSY, S.NO_ANSWER, S.FAILED, S.MACHINE}
PERSON_HELLO_S = 0.6  # person_hello.pcap: "hallo", then silence (AMD: a person ~0.8 s later)
# machine_greeting.pcap: six words with pauses (5.1 s), 0.3 s, the beep (0.5 s).
MACHINE_BEEP_ENDS_S = 6 * 0.85 + 0.3 + 0.5

# Short, so the wave is short; long enough to press a key in its middle.
VOICE_TEXT = "Burgernet. Kijk uit naar een man met een rode jas. Ziet u hem, bel dan gratis 0800-0011."

PLAN = {
    "+31695000001": "hangs_up_at_once",
    "+31691200001": "press2_mid_message",
    "+31696000001": "silent",
    "+31697000001": "dutch_greeting",
    "+31694000001": "machine",
    "+31693000001": "busy",
}


@pytest.fixture
def wave_settings(settings, tmp_path, asterisk_testbed):
    wait_until_no_channels()
    base = bench_settings(
        settings, channels=10, cps=10, connections=1, share=SHARE, instance=tmp_path / "instance"
    )
    dialer = base.dialer.model_copy(
        update={"dial_timeout_s": 4, "busy_retry_delays_s": [], "no_answer_retry_delays_s": []}
    )
    return base.model_copy(update={"dialer": dialer})


@pytest.fixture
def wave_db(database_url):
    db = Database(database_url, pool_size=20, max_overflow=5)
    yield db
    db.dispose()


def test_each_row_tells_what_the_participant_heard(wave_settings, wave_db, tmp_path):
    wave = seed_alert_wave(wave_db, list(PLAN), voice_text=VOICE_TEXT)
    prerender_prompts(wave_settings, [VOICE_TEXT])
    sounds = AsteriskSounds(wave_settings)
    alert_s = sounds.rendered(Speech(text=VOICE_TEXT)).duration_s
    callback_s = sounds.rendered(
        Speech(prompt_text("machine_callback", wave_settings), "machine_callback")
    ).duration_s
    # The 2 falls in the middle of the message: after "hallo", AMD's verdict (0.8 s of
    # silence after it) and half the message.
    press_ms = int((PERSON_HELLO_S + 0.8 + alert_s / 2) * 1000)
    # The machine records until the message is left; people listen through the message and
    # hang up during the menu.
    stay_ms = int((MACHINE_BEEP_ENDS_S + 1.5 + alert_s + callback_s + 3.0) * 1000)

    with (
        testbed.phone_farm(tmp_path, dtmf_delay_ms=press_ms, hangup_after_ms=stay_ms),
        testbed.centralist_phone(tmp_path, hangup_after_ms=2_000),
        AsteriskStack(wave_settings, wave_db),
    ):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if all(state in FINAL for state in delivery_states(wave_db, wave.action_id).values()):
                break
            time.sleep(0.5)

    with wave_db.session() as s:
        rows = {d.target: d for d in s.scalars(select(Delivery).where(Delivery.action_id == wave.action_id))}
        log: dict[int, list[str]] = {}
        for event in s.scalars(select(DeliveryEvent).order_by(DeliveryEvent.id)):
            log.setdefault(event.delivery_id, []).append(event.event)
        counted = figures(s, s.get(Action, wave.action_id))
    by = {behaviour: rows[number] for number, behaviour in PLAN.items()}
    states = {behaviour: S(row.state) for behaviour, row in by.items()}
    assert states == {
        "hangs_up_at_once": S.COMPLETED,
        "press2_mid_message": S.COMPLETED,
        "silent": S.COMPLETED,
        "dutch_greeting": S.COMPLETED,
        "machine": S.MACHINE,
        "busy": S.BUSY,
    }, {b: log.get(r.id) for b, r in by.items()}

    # Gone half a second after answering: answered, but heard nothing; not reached.
    early = by["hangs_up_at_once"]
    assert early.answered_at is not None and early.message_started_at is None
    assert (early.heard, early.listened_s) == (MessageHeard.NONE, 0.0)
    assert (early.hangup_cause, early.hangup_by) == ("NORMAL_CLEARING", HangupBy.PARTICIPANT)

    # A 2 in the middle of the message: put through at once, the rest of it (and the menu)
    # never played.
    pressed = by["press2_mid_message"]
    assert pressed.transfer_requested and pressed.menu_choices == "2"
    assert pressed.heard is MessageHeard.PART and 0 < pressed.listened_s < alert_s
    assert "INVITE sip:centralist@" in (tmp_path / "centralist.messages.log").read_text(errors="replace")
    assert pressed.hangup_cause == "NORMAL_CLEARING"

    # Silent, and the Dutch greeting: people, who heard the whole message and then the menu.
    for name in ("silent", "dutch_greeting"):
        row = by[name]
        assert row.answered_by == "human", (name, log[row.id])
        assert row.heard is MessageHeard.ALL and row.listened_s >= alert_s - 1.0, name
        assert row.answered_at < row.message_started_at
        assert (row.hangup_cause, row.hangup_by) == ("NORMAL_CLEARING", HangupBy.PARTICIPANT), name
    silent = by["silent"]
    silent_wait_s = (silent.message_started_at - silent.answered_at).total_seconds()

    # The machine: the message waits for the end of its greeting and its beep.
    machine = by["machine"]
    assert machine.answered_by == "machine" and machine.heard is MessageHeard.ALL
    machine_wait_s = (machine.message_started_at - machine.answered_at).total_seconds()
    assert machine_wait_s > MACHINE_BEEP_ENDS_S
    assert machine.hangup_by is HangupBy.IVR

    busy = by["busy"]
    assert (busy.hangup_cause, busy.hangup_by, busy.answered_at) == ("USER_BUSY", HangupBy.PARTICIPANT, None)

    # The figures, recounted from the rows: heard (part or all) vs answered.
    heard = sum(1 for r in rows.values() if r.heard in (MessageHeard.PART, MessageHeard.ALL))
    answered = sum(1 for r in rows.values() if r.answered_at is not None)
    assert (counted.reached, counted.answered) == (heard, answered) == (4, 5)
    print(
        json.dumps(
            {
                "silent_listener_message_after_s": round(silent_wait_s, 2),
                "machine_message_after_s": round(machine_wait_s, 2),
                "press2_listened_s": pressed.listened_s,
                "alert_s": round(alert_s, 2),
            }
        )
    )
