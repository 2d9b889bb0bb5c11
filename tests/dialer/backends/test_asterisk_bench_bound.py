"""The benchmark's bound: what an ideal dialer achieves on a trunk (a pure function)."""

import pytest

from bench.asterisk import ideal_wave_seconds, mean_seconds, pace, phone_calls


def test_channel_bound_wave_runs_in_generations():
    # 300 calls start in 6 s; the other 200 wait for the first 200 to hang up.
    assert abs(ideal_wave_seconds(500, 50, 300, 88.0) - (199 / 50 + 88 + 88)) < 1e-9


def test_cps_bound_wave_ends_one_call_after_the_last_start():
    assert ideal_wave_seconds(100, 10, 1000, 5.0) == 99 / 10 + 5.0


def test_single_channel_is_sequential():
    assert ideal_wave_seconds(3, 100, 1, 2.0) == 6.0
    assert ideal_wave_seconds(0, 10, 1, 2.0) == 0.0


def test_pace_over_the_first_calls():
    times = [0.0, 0.1, 0.2, 0.3, 10.0]
    assert abs(pace(times, 4) - 10.0) < 1e-9
    assert abs(pace(times, 5) - 0.4) < 1e-9
    assert pace([1.0], 1) == 0.0


# --- the calls as the phones saw them (sipp's message log, as sipp 3.6 writes it) -------------

SIPP_LOG = """\
----------------------------------------------- 2026-11-28 21:43:15.879060
UDP message received [930] bytes :

INVITE sip:31690000000@127.0.0.1:5070 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKPj0891
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29182 INVITE
Content-Length:   0

----------------------------------------------- 2026-11-28 21:43:15.880587
UDP message sent (386 bytes):

SIP/2.0 180 Ringing
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29182 INVITE
Content-Length: 0


----------------------------------------------- 2026-11-28 21:43:16.191607
UDP message sent (613 bytes):

SIP/2.0 200 OK
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29182 INVITE
Content-Type: application/sdp
Content-Length:   197

v=0
m=audio 6000 RTP/AVP 8 101

----------------------------------------------- 2026-11-28 21:43:16.300000
UDP message received [930] bytes :

INVITE sip:31692000001@127.0.0.1:5070 SIP/2.0
Call-ID: never-answered
CSeq: 7 INVITE
Content-Length: 0

----------------------------------------------- 2026-11-28 21:43:16.691607
UDP message sent (613 bytes):

SIP/2.0 200 OK
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29182 INVITE
Content-Length:   0

----------------------------------------------- 2026-11-28 21:44:43.420102
UDP message received [432] bytes :

BYE sip:127.0.0.1:5070;transport=UDP SIP/2.0
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29183 BYE
Reason: Q.850;cause=0
Content-Length:  0


----------------------------------------------- 2026-11-28 21:44:43.420358
UDP message sent (333 bytes):

SIP/2.0 200 OK
Call-ID: 74248112-e841-41a9-adb6-741ffb49819f
CSeq: 29183 BYE
Content-Length: 0

"""


def test_phone_calls_run_from_the_phones_answer_to_the_bye():
    calls = phone_calls(SIPP_LOG)
    answered = calls["74248112-e841-41a9-adb6-741ffb49819f"]
    # The first 200 OK to the INVITE counts (the second is a retransmission); the 200 OK to the
    # BYE is not an answer.
    assert answered.network_s == pytest.approx(87.228495, abs=1e-6)
    assert answered.ring_s == pytest.approx(0.312547, abs=1e-6)
    unanswered = calls["never-answered"]
    assert unanswered.network_s is None and unanswered.ring_s is None


def test_mean_seconds_leaves_out_calls_not_seen_whole():
    assert mean_seconds([80.0, None, 90.0]) == 85.0
    assert mean_seconds([None]) == 0.0


def test_network_bound_ignores_how_slowly_the_dialer_originated():
    # Claim-to-final grows by the originate delay; the phones' answer-to-hang-up does not, so
    # the bound from it stays put and a slow dialer scores lower against it.
    network_s = phone_calls(SIPP_LOG)["74248112-e841-41a9-adb6-741ffb49819f"].network_s
    slow_claim_to_final = network_s + 3.0
    assert ideal_wave_seconds(100, 20, 300, network_s) < ideal_wave_seconds(100, 20, 300, slow_claim_to_final)
    assert ideal_wave_seconds(100, 20, 300, network_s) == pytest.approx(99 / 20 + network_s)


def test_a_log_without_times_is_refused():
    with pytest.raises(ValueError):
        phone_calls("----------------------------------------------- no time here\n")
