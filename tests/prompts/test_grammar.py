"""Articles and agreement: every combination of description fields reads as correct Dutch."""

from __future__ import annotations

import pytest

from prompts.grammar import place_with_article, with_articles
from prompts.messages import compose_alert

CALLBACK = "0800-0011"


@pytest.mark.parametrize(
    "typed, phrase",
    [
        ("zwarte jas", "een zwarte jas"),  # issue 16
        ("een blauwe jas en een spijkerbroek", "een blauwe jas en een spijkerbroek"),
        ("blauwe jas en spijkerbroek", "een blauwe jas en een spijkerbroek"),
        ("zwarte jas en witte sneakers", "een zwarte jas en witte sneakers"),
        (
            "grijze hoodie met capuchon, spijkerbroek en witte schoenen",
            "een grijze hoodie met capuchon, een spijkerbroek en witte schoenen",
        ),
        ("donkere kleding", "donkere kleding"),
        ("lichtblauwe jeans", "lichtblauwe jeans"),
        ("rode en blauwe jas", "een rode en blauwe jas"),
        ("een rode en blauwe jas", "een rode en blauwe jas"),
        ("rode en blauwe sneakers", "rode en blauwe sneakers"),
        ("zwart-witte jas met rode en blauwe strepen", "een zwart-witte jas met rode en blauwe strepen"),
        ("spijkerbroek of joggingbroek", "een spijkerbroek of een joggingbroek"),
        ("witte blouse", "een witte blouse"),
        ("Ajax-shirt", "een Ajax-shirt"),
        ("de jas van zijn vader", "de jas van zijn vader"),
        ("twee tassen", "twee tassen"),
        ("zwarte handschoenen", "zwarte handschoenen"),
        ("zijn rode pet", "zijn rode pet"),
        # Diminutives: "-je" is one thing, "-jes" several.
        ("gele laarsjes", "gele laarsjes"),
        ("roze winterjas, gele laarsjes", "een roze winterjas, gele laarsjes"),
        ("rood petje", "een rood petje"),
        ("petje", "een petje"),
        ("blauw jasje en witte sokjes", "een blauw jasje en witte sokjes"),
        ("rokje of broekje", "een rokje of een broekje"),
        ("oranje en blauwe jas", "een oranje en blauwe jas"),  # a colour, not a diminutive
        ("oranje hesje", "een oranje hesje"),
    ],
)
def test_articles_for_noun_phrases(typed, phrase):
    assert with_articles(typed) == phrase


def test_places_get_their_article():
    assert place_with_article("station") == "het station"
    assert place_with_article("binnenstad") == "de binnenstad"
    assert place_with_article("Station Delft") == "Station Delft"
    assert place_with_article("het park") == "het park"


def test_clothing_without_article_reads_as_dutch():
    message = compose_alert(
        "suspect",
        {"gender": "male", "clothing": "zwarte jas", "items": "rode rugtas", "direction": "richting station"},
        "",
        CALLBACK,
    )
    assert "Hij draagt een zwarte jas." in message.voice
    assert "Hij draagt een zwarte jas." in message.display
    assert "Hij heeft een rode rugtas bij zich." in message.voice
    assert "Hij is gevlucht in de richting van het station." in message.voice


@pytest.mark.parametrize("gender, pronoun", [("male", "Hij"), ("female", "Zij"), ("unknown", "Deze persoon")])
def test_every_gender_agrees(gender, pronoun):
    message = compose_alert(
        "suspect", {"gender": gender, "clothing": "witte sneakers", "hair": "blond"}, "", CALLBACK
    )
    assert f"{pronoun} draagt witte sneakers." in message.display
    assert f"{pronoun} heeft blond haar." in message.display


def test_other_subject_gets_an_article():
    message = compose_alert("other", {"subject": "loslopend paard"}, "", CALLBACK)
    assert "Wilt u uitkijken naar een loslopend paard." in message.display
    plural = compose_alert("other", {"subject": "loslopende koeien"}, "", CALLBACK)
    assert "Wilt u uitkijken naar loslopende koeien." in plural.display


def test_missing_child_without_gender():
    message = compose_alert("missing_child", {"age": "6", "clothing": "roze jas"}, "", CALLBACK)
    assert "Wilt u uitkijken naar een vermist kind van zes jaar." in message.voice
    assert "Het kind draagt een roze jas." in message.voice
