"""The benchmark's bound: what an ideal dialer achieves on a trunk (a pure function)."""
from bench.asterisk import ideal_wave_seconds, pace


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
