"""The snippets inside an existing PBX: the testbed is one (its own transport, trunk
`pbx-provider` and contexts, which #include burgernet_*.conf), so every end-to-end test already
runs the alert and call-back flows on that layout. This one takes the administrator's route for
the call-back number: a caller on the PBX's own trunk lands in the PBX's own inbound context
[from-pstn], which sends the number to [burgernet-inbound]; the sighting is recorded."""

from __future__ import annotations

import pytest
from asterisk_e2e import wait_until_no_channels
from test_full_stack import SHARE, assert_recorded, callback_seconds, only_sighting, seed_callback_caller

from bench.asterisk import bench_settings
from db.database import Database
from tests.support import testbed
from tests.support.asterisk_stack import AsteriskStack, prerender_prompts

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asterisk,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

PBX_OWN_TRUNK = "127.0.0.4"  # testbed/pjsip.conf: pbx-provider's address


@pytest.fixture
def stack_settings(settings, tmp_path, asterisk_testbed):
    wait_until_no_channels()
    return bench_settings(
        settings, channels=4, cps=5, connections=1, share=SHARE, instance=tmp_path / "instance"
    )


@pytest.fixture
def stack_db(database_url):
    db = Database(database_url, pool_size=10, max_overflow=5)
    yield db
    db.dispose()


# The database plays no part in the routing: one run (SQLite) keeps the suite's time in budget.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_call_back_number_routed_from_the_pbxs_own_inbound_context(stack_settings, stack_db, tmp_path):
    dialplan = testbed.asterisk_cli("dialplan show 08000011@from-pstn")
    assert "Goto(burgernet-inbound" in dialplan  # the administrator's route, not ours
    caller = "+31612345678"
    wave = seed_callback_caller(stack_db, caller)
    prerender_prompts(stack_settings, [])
    t = callback_seconds(stack_settings, stack_db, wave.action_id)
    with AsteriskStack(stack_settings, stack_db) as stack:
        asterisk = stack_settings.asterisk
        testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
        press_s = t["until_offer"] + (t["callback_transfer_or_record"] + 4) / 2 + 0.5
        call = testbed.callback_caller(
            tmp_path,
            caller=caller.lstrip("+"),
            digit="1",
            digit_at_ms=int(press_s * 1000),
            speak_after_ms=int(t["callback_record"] * 1000) + 1500,
            stay_ms=int((4 + t["callback_thanks"] + t["callback_saved_bye"] + 10) * 1000),
            local_ip=PBX_OWN_TRUNK,
        )
        with call:
            exit_code = call.wait(timeout_s=120)
        assert exit_code == 0, call.log_tail()
        outcomes = dict(stack.server.outcomes)
    assert outcomes == {"completed": 1}, outcomes
    sighting = only_sighting(stack_db, outcomes)
    assert sighting.action_id == wave.action_id and sighting.caller_number == caller
    assert_recorded(stack_settings, sighting)
