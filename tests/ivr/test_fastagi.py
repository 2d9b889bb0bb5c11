"""The FastAGI server over a real TCP socket, with the test playing Asterisk's side."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fake_asterisk import FakeChannel
from ivr_seed import seed_all
from sqlalchemy import select

from db.models import Action, Delivery, Participant, ParticipantStatus, Sighting


@pytest.fixture
def seeded(db):
    return seed_all(db)


def channel(server, script, **kwargs) -> FakeChannel:
    host, port = server.server_address[:2]
    return FakeChannel(host, port, script, **kwargs)


def wait_for_outcomes(server, total: int) -> dict:
    for _ in range(200):
        if sum(server.outcomes.values()) >= total:
            break
        threading.Event().wait(0.02)
    return dict(server.outcomes)


def test_alert_call_repeat_then_confirm(server, seeded, db, agi_settings):
    call = channel(
        server,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id), "BURGERNET_AMD": "HUMAN"},
        presses=["1", "3"],
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    assert commands[-1] == "HANGUP"
    assert call.sent("STREAM FILE") and len(call.sent("WAIT FOR DIGIT 6000")) == 2
    # alert, menu, repeat + alert, menu, thanks + goodbye
    played = call.played()
    assert len(played) == 7 and played[0] == played[3] and played[1] == played[4]
    sounds = Path(agi_settings.asterisk.sounds_dir)
    for name in played:
        assert Path(name).parent == sounds / "burgernet-cache"
        assert Path(name + ".sln").stat().st_size > 1000
    # The alert, the menu, the repeat (two prompts) and the menu again all take the menu keys.
    with_keys = [c for c in commands if c.startswith("STREAM FILE") and '"1239"' in c]
    assert len(with_keys) == 5
    with db.session() as s:
        delivery = s.get(Delivery, seeded.delivery_id)
        assert (delivery.menu_choices, delivery.acknowledged) == ("13", True)


def test_alert_to_answering_machine_waits_for_the_beep(server, seeded, db):
    call = channel(
        server,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id), "BURGERNET_AMD": "MACHINE"},
    )
    commands = call.run()
    assert commands[0].startswith("GET VARIABLE")
    assert call.sent("EXEC WaitForSilence") == ["EXEC WaitForSilence 1500,1,30"]
    assert len(call.played()) == 2 and commands[-1] == "HANGUP"
    assert not call.sent("WAIT FOR DIGIT")


def test_alert_key_during_the_menu_prompt_opts_out_the_number(server, seeded, db):
    call = channel(
        server,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)},
        barge_in=[None, "9", "1"],  # the alert heard out; 9 in the menu prompt, 1 to confirm
    )
    call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    assert not call.sent("WAIT FOR DIGIT")
    with db.session() as s:
        assert s.get(Delivery, seeded.delivery_id).opt_out_requested is True
        participant = s.get(Participant, seeded.participant_id)
        assert participant.status is ParticipantStatus.ACTIVE  # the called number only
        assert [p.verified for p in participant.phones] == [False]


def test_callback_caller_presses_1_and_records_before_the_thanks(server, seeded, db, agi_settings):
    seen_at_thanks = []

    def check(command):
        # The first prompt after RECORD FILE is the thank-you: the row must be there already.
        if command.startswith("STREAM FILE") and call.sent("RECORD FILE") and not seen_at_thanks:
            with db.session() as s:
                rows = s.scalars(select(Sighting)).all()
                seen_at_thanks.append([(r.action_id, r.recording_path) for r in rows])

    call = channel(server, "callback", callerid="0612345678", presses=["1"], on_command=check)
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    assert call.sent("STREAM FILE") and [c for c in commands if '"1"' in c]  # the offer to record
    [record] = call.sent("RECORD FILE")
    assert record.endswith('wav "#" 120000 0 BEEP s=4')
    assert seen_at_thanks and seen_at_thanks[0][0][0] == seeded.action_id and seen_at_thanks[0][0][1]
    assert not call.sent("GOSUB")
    assert commands[-1] == "HANGUP"
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.participant_id, sighting.delivery_id) == (seeded.participant_id, seeded.delivery_id)
        assert sighting.provider == "asterisk" and sighting.provider_call_id == "1764338400.42"
        assert (sighting.transferred, sighting.transfer_result) == (False, None)
        assert sighting.duration_s == pytest.approx(2.0)
        stored = agi_settings.recordings_dir / sighting.recording_path
        assert stored.stat().st_size > 30000
    assert list(Path(agi_settings.asterisk.recordings_dir).iterdir()) == []


def test_callback_caller_who_waits_is_put_through(server, seeded, db):
    call = channel(server, "callback", callerid="0612345678", presses=[""])
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    assert call.sent("WAIT FOR DIGIT 4000")
    assert call.sent('SET VARIABLE "BURGERNET_TRANSFER_TARGET" "+31703456701"')
    assert call.sent("GOSUB burgernet-transfer s 1")
    assert commands[-2:] == ["GET VARIABLE DIALSTATUS", "HANGUP"]
    assert not call.sent("RECORD FILE")
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.action_id, sighting.participant_id) == (seeded.action_id, seeded.participant_id)
        assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
        assert sighting.recording_path is None


def test_callback_hangup_while_recording_keeps_the_sighting(server, seeded, db, agi_settings):
    call = channel(
        server,
        "callback",
        callerid="+31612345678",
        presses=["1"],
        hang_up_at="RECORD FILE",
        record_seconds=1.0,
    )
    call.run()
    assert wait_for_outcomes(server, 1) == {"hangup": 1}
    assert not call.sent("SET CONTEXT")
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert sighting.action_id == seeded.action_id and sighting.duration_s == pytest.approx(1.0)
        assert (agi_settings.recordings_dir / sighting.recording_path).is_file()


def test_callback_transfer_unanswered_records_the_sighting(server, seeded, db, agi_settings):
    call = channel(server, "callback", callerid="0612345678", dial_status="NOANSWER")
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"completed": 1}
    after = commands[commands.index("GET VARIABLE DIALSTATUS") + 1 :]
    # "unreachable, speak after the beep", the recording, "thank you", hang up
    assert [c.split()[0] for c in after] == ["STREAM", "RECORD", "STREAM", "STREAM", "HANGUP"]
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.transferred, sighting.transfer_result) == (False, "NOANSWER")
        assert (agi_settings.recordings_dir / sighting.recording_path).stat().st_size > 30000


@pytest.mark.parametrize("hangup_line", [True, False], ids=["notice_first", "notice_later"])
def test_caller_hangs_up_after_the_conversation_with_the_centralist(hangup_line, server, seeded, db):
    call = channel(server, "callback", callerid="0612345678", hang_up_at="GOSUB", hangup_line=hangup_line)
    call.run()
    assert wait_for_outcomes(server, 1) == {"hangup": 1}
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
        assert sighting.recording_path is None


def test_minus_one_on_a_live_channel_is_an_error_and_falls_back(server, seeded):
    call = channel(
        server, "alert", variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)}, fail_at="STREAM FILE"
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"fallback": 1}
    assert commands[-5:] == ["CHANNEL STATUS", *FALLBACK]


def test_minus_one_on_a_dead_channel_is_a_hangup(server, seeded):
    call = channel(
        server,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)},
        hang_up_at="STREAM FILE",
        hangup_line=False,
    )
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"hangup": 1}
    assert commands[-1] == "CHANNEL STATUS"


FALLBACK = [
    'SET VARIABLE "BURGERNET_IVR_ERROR" "1"',
    "SET CONTEXT burgernet-fallback",
    "SET EXTENSION s",
    "set priority 1",
]


@pytest.mark.parametrize("case", ["no_delivery_variable", "unknown_script", "no_voice_text"])
def test_forced_error_sends_the_channel_to_the_fallback(case, server, seeded, db):
    variables = {"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)}
    script = "alert"
    if case == "no_delivery_variable":
        variables = {}
    elif case == "unknown_script":
        script = "nope"
    else:
        with db.transaction() as s:
            s.get(Action, seeded.action_id).voice_text = None
    call = channel(server, script, variables=variables)
    commands = call.run()
    assert wait_for_outcomes(server, 1) == {"fallback": 1}
    assert commands[-4:] == FALLBACK
    assert not call.played()


def test_concurrent_calls_each_get_their_own_session(server, seeded, db):
    calls = [
        channel(
            server,
            "alert",
            variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)},
            presses=["1", "3"],
        )
        for n in range(4)
    ]
    calls += [
        channel(server, "callback", uniqueid=f"2.{n}", callerid="0152158000", presses=["1" if n % 2 else ""])
        for n in range(4)
    ]
    threads = [threading.Thread(target=c.run) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wait_for_outcomes(server, 8) == {"completed": 8}
    with db.session() as s:
        stored = s.scalars(select(Sighting)).all()
        # Two callers recorded, two were put through: every call-back is a row.
        assert sorted((x.transferred, x.recording_path is not None) for x in stored) == [
            (False, True),
            (False, True),
            (True, False),
            (True, False),
        ]
        # Four calls on one delivery interleave, but no digit is lost.
        assert sorted(s.get(Delivery, seeded.delivery_id).menu_choices) == sorted("13" * 4)


def test_calls_hold_no_database_connection_while_audio_plays(seeded, database_url, agi_settings, clock):
    """Six calls with prompts of 0.3 s each share ONE pooled connection (1 s checkout limit):
    only possible when a call gives the connection back while its channel plays."""
    from db.database import Database
    from ivr.fastagi import build_server

    tiny = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=1)
    srv = build_server(agi_settings, tiny, clock, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        calls = [
            channel(
                srv,
                "alert",
                prompt_seconds=0.3,
                presses=["3"],
                variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)},
            )
            for n in range(6)
        ]
        threads = [threading.Thread(target=c.run) for c in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert wait_for_outcomes(srv, 6) == {"completed": 6}
    finally:
        srv.shutdown()
        srv.server_close()
        tiny.dispose()


@pytest.mark.parametrize("hangup_line", [True, False], ids=["notice", "no_notice"])
@pytest.mark.parametrize(
    "how", ["during_digit_wait", "right_after_digit_wait", "during_menu_prompt", "right_after_menu_prompt"]
)
def test_hangup_during_a_menu_is_a_normal_end(how, hangup_line, server, seeded, db, caplog):
    """A caller who hangs up in the menu ends the call: no error logged, no fallback tried,
    whether Asterisk reports it on the running command (result -1) or refuses the next one
    (511 on a dead channel)."""
    where = {
        "during_digit_wait": {"hang_up_at": "WAIT FOR DIGIT"},
        "right_after_digit_wait": {"hang_up_after": "WAIT FOR DIGIT"},
        "during_menu_prompt": {"hang_up_at": "STREAM FILE", "barge_in": []},
        "right_after_menu_prompt": {"hang_up_after": "STREAM FILE"},
    }[how]
    call = channel(
        server,
        "alert",
        variables={"BURGERNET_DELIVERY_ID": str(seeded.delivery_id)},
        hangup_line=hangup_line,
        **where,
    )
    if how == "during_menu_prompt":  # the alert plays; the caller hangs up in the menu prompt
        call.hang_up_at = None
        with_keys: list[str] = []  # the alert takes the menu keys too: the second is the menu

        def in_the_menu_prompt(command: str) -> None:
            if '"1239"' in command:
                with_keys.append(command)
                if len(with_keys) == 2:
                    call.hang_up_at = "STREAM FILE"

        call.on_command = in_the_menu_prompt
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        commands = call.run()
        assert wait_for_outcomes(server, 1) == {"hangup": 1}
    assert any('"1239"' in c for c in commands)  # the menu was reached
    assert not call.sent("SET CONTEXT") and not call.sent("HANGUP")
    assert [r.levelname for r in caplog.records if r.levelname in ("ERROR", "WARNING")] == []
    assert any("fastagi.hangup" in r.getMessage() and "node=menu" in r.getMessage() for r in caplog.records)
    with db.session() as s:
        assert s.get(Delivery, seeded.delivery_id).menu_choices == ""


def test_hangup_in_the_call_back_action_menu_is_a_normal_end(server, seeded, db, caplog):
    from datetime import timedelta

    from ivr_seed import STARTED, seed_action

    from db.models import Operator

    with db.transaction() as s:
        room = s.get(Operator, seeded.operator_id).control_room
        seed_action(s, room, None, label="Station, Delft", started=STARTED + timedelta(minutes=5))
    call = channel(server, "callback", callerid="0152158000", hang_up_after="WAIT FOR DIGIT")
    with caplog.at_level("INFO", logger="ivr.fastagi"):
        call.run()
        assert wait_for_outcomes(server, 1) == {"hangup": 1}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    with db.session() as s:  # the call is on record, with nothing reported
        [sighting] = s.scalars(select(Sighting)).all()
        assert (sighting.action_id, sighting.recording_status) == (None, "none")
