"""The AMI backend's pure parts: call ids, Q.850 causes, the hangup handler's record."""

import re

from config.logging import mask_phones_in
from deliveries.call_backend import CallEventType as T
from dialer.backends.asterisk import (
    ami_variable,
    call_id_for,
    cause_name,
    delivery_id_from,
    hangup_record_families,
    parse_hangup_record,
    unanswered_outcome,
)


def test_call_id_names_its_delivery_and_is_unique():
    ids = {call_id_for(42) for _ in range(100)}
    assert len(ids) == 100
    for call_id in ids:
        assert re.fullmatch(r"bn-42-[a-z]{10}", call_id)
        assert delivery_id_from(call_id) == 42
        assert mask_phones_in(call_id) == call_id  # never mistaken for a phone number


def test_foreign_channels_are_not_ours():
    assert delivery_id_from("1795836707.42") is None
    assert delivery_id_from("bn-x-abc") is None
    # The trunk side of the Local channel the dialer originates is not the call itself.
    assert delivery_id_from("bn-42-abcdefghij;2") is None


def test_hangup_records_are_looked_up_in_the_dialplans_hourly_families():
    hour = 3600 * 492_000  # hour 492000 since 1970: family 492000 % 6 == 0
    assert hangup_record_families(hour + 10) == [f"burgernet-calls-{n}" for n in (0, 5, 4, 3, 2, 1)]
    assert hangup_record_families(hour + 3600)[0] == "burgernet-calls-1"


def test_unanswered_causes():
    assert unanswered_outcome(17) == T.BUSY
    assert unanswered_outcome(19) == T.NO_ANSWER
    assert unanswered_outcome(18) == T.NO_ANSWER
    assert unanswered_outcome(34) == T.FAILED
    assert unanswered_outcome(None) == T.FAILED
    assert cause_name(17) == "USER_BUSY"
    assert cause_name(99) == "CAUSE_99"
    assert cause_name(None) == "UNKNOWN"


def test_hangup_record():
    assert parse_hangup_record("16|answered|HUMAN") == (16, True, "HUMAN")
    assert parse_hangup_record("17|unanswered|") == (17, False, "")
    assert parse_hangup_record("") == (None, False, "")


def test_originate_variables_survive_commas_and_line_breaks():
    assert ami_variable("CHANNEL(hangup_handler_push)", "burgernet-hangup,s,1") == (
        "CHANNEL(hangup_handler_push)=burgernet-hangup\\,s\\,1"
    )
    text = "De persoon is gevonden,\ndank voor uw hulp."
    assert ami_variable("BURGERNET_TEXT", text) == (
        "BURGERNET_TEXT=De persoon is gevonden\\, dank voor uw hulp."
    )
    assert ami_variable("BURGERNET_ATTEMPT", 2) == "BURGERNET_ATTEMPT=2"
