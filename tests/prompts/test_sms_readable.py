"""SMS people can read: no abbreviation from the table in any composed SMS (issue 16)."""

from __future__ import annotations

import pytest

from prompts.messages import compose_alert, compose_outcome
from prompts.spoken import leftover_abbreviations

CALLBACK = "0800-0011"

DESCRIPTIONS = [
    ("suspect", {"gender": "male", "age": "35", "clothing": "zwarte jas"}),
    (
        "suspect",
        {"gender": "female", "age": "ca. 20-25 jr", "hair": "blond", "transport": "public_transport"},
    ),
    ("suspect", {"gender": "unknown", "items": "tas t.w.v. 500 euro", "direction": "richting Kerkstr."}),
    ("missing_person", {"gender": "male", "age": "82", "medical_note": "i.v.m. dementie verward"}),
    ("missing_child", {"gender": "female", "age": "7", "clothing": "roze jas", "last_seen_time": "9:05"}),
    ("vehicle", {"colour": "red", "plate": "gh123j", "features": "o.a. schade links"}),
    ("other", {"subject": "loslopend paard", "details": "bruin, ca. 1,60 m"}),
]
FREE_TEXTS = ["", "Zsm bellen.", "Gezien t.h.v. nr. 12 i.p.v. bij de kerk.", "Mogelijk gestolen."]


@pytest.mark.parametrize("kind, description", DESCRIPTIONS)
@pytest.mark.parametrize("free", FREE_TEXTS)
def test_no_abbreviation_in_any_composed_sms(kind, description, free):
    message = compose_alert(kind, description, free, CALLBACK)
    assert not leftover_abbreviations(message.sms), message.sms
    assert " jr" not in message.sms and "ca." not in message.sms
    assert message.sms_segments <= 3 and message.sms_encoding == "GSM-7"


def test_the_age_in_words_people_read():
    # issue 16: the SMS said "ca. 35 jr".
    message = compose_alert(
        "suspect", {"gender": "male", "age": "35", "clothing": "zwarte jas"}, "", CALLBACK
    )
    assert message.sms == (
        "Burgernet: kijk uit naar een man van ongeveer 35 jaar, in een zwarte jas. "
        "Gezien? Bel gratis 0800-0011. Stop? Sms STOP naar dit nummer."
    )


def test_transport_in_full_words():
    message = compose_alert(
        "suspect", {"gender": "female", "age": "30", "transport": "public_transport"}, "", CALLBACK
    )
    assert "met het openbaar vervoer" in message.sms
    assert " ov" not in message.sms


def test_free_text_abbreviations_are_written_out_in_the_sms():
    message = compose_alert("vehicle", {"plate": "12-ABC-3"}, "Zsm bellen.", CALLBACK)
    assert "Zo snel mogelijk bellen." in message.sms


def test_outcome_sms_without_abbreviations():
    message = compose_outcome("found", "missing_person", CALLBACK, note="Gevonden t.h.v. de Kerkstr.")
    assert not leftover_abbreviations(message.sms)
    assert "ter hoogte van de Kerkstraat" in message.sms
