"""What the PBX side saw, from the phones' SIP message log: how many calls each number got, and
the most calls in any one-second window (the trunk's CPS as the provider would measure it)."""

from __future__ import annotations

from bench.asterisk import invites_per_number, max_per_window


def invite(stamp: str, number: str, call_id: str) -> str:
    return (
        f"----------------------------------------------- 2026-11-28 21:43:{stamp}\n"
        "UDP message received [930] bytes :\n\n"
        f"INVITE sip:{number}@127.0.0.1:5070 SIP/2.0\n"
        f"Call-ID: {call_id}\n"
        "CSeq: 1 INVITE\n"
        "Content-Length: 0\n\n"
    )


def test_each_call_id_counts_once_per_number_across_phone_farms():
    first_farm = (
        invite("15.000000", "31690000000", "a")
        + invite("15.500000", "31690000000", "a")  # a retransmission: the same call
        + invite("16.000000", "31690000001", "b")
    )
    second_farm = invite("17.000000", "31690000001", "c") + invite("18.000000", "+31690000002", "d")

    assert invites_per_number(first_farm, second_farm) == {
        "31690000000": 1,
        "31690000001": 2,
        "31690000002": 1,
    }


def test_max_per_window_is_a_half_open_sliding_second():
    # Five calls exactly 0.25 s apart: any [t, t+1) holds four of them, never five.
    assert max_per_window([0.0, 0.25, 0.5, 0.75, 1.0]) == 4
    assert max_per_window([0.0, 0.1, 0.2, 0.95, 1.5, 1.9]) == 4
    assert max_per_window([]) == 0
    assert max_per_window([3.0, 1.0, 2.0], window_s=2.5) == 3
