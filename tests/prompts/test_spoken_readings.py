"""The preview shows how the voice reads what was typed, so a wrong guess is visible."""

from __future__ import annotations

from prompts.messages import spoken_readings


def test_readings_show_plates_dates_and_abbreviations():
    readings = spoken_readings(
        "vehicle",
        {"plate": "12-ABC-3", "features": "schade t.h.v. achterdeur", "direction": "Delft"},
        "Gestolen op 28-11, kenteken gh 123 j",
    )
    assert {
        "field": "features",
        "written": "schade t.h.v. achterdeur",
        "spoken": "schade ter hoogte van achterdeur",
    } in readings
    assert {
        "field": "free_text",
        "written": "Gestolen op 28-11, kenteken gh 123 j",
        "spoken": "Gestolen op achtentwintig november, kenteken gee haa, één twee drie, jee",
    } in readings
    assert all(r["field"] != "direction" for r in readings)  # read as typed: not listed


def test_no_readings_when_nothing_is_guessed():
    assert spoken_readings("other", {"subject": "een loslopend paard"}, "") == []
