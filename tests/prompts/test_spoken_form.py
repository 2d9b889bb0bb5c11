"""Dutch spoken-form normalisation and the refusal of unspeakable text."""

from __future__ import annotations

import pytest

from prompts.callback_number import same_number
from prompts.errors import UnspeakableText
from prompts.spoken import (
    clean_text,
    digits_spoken,
    height_spoken,
    number_words,
    ordinal_words,
    phone_spoken,
    plate_groups,
    plate_spoken,
    time_spoken,
    to_spoken,
)


@pytest.mark.parametrize(
    "number, words",
    [
        (0, "nul"),
        (1, "één"),
        (7, "zeven"),
        (13, "dertien"),
        (20, "twintig"),
        (21, "eenentwintig"),
        (22, "tweeëntwintig"),
        (23, "drieëntwintig"),
        (25, "vijfentwintig"),
        (80, "tachtig"),
        (99, "negenennegentig"),
        (100, "honderd"),
        (101, "honderdeen"),
        (180, "honderdtachtig"),
        (250, "tweehonderdvijftig"),
        (1000, "duizend"),
        (1052, "duizend tweeënvijftig"),
        (1500, "vijftienhonderd"),
        (1952, "negentienhonderdtweeënvijftig"),
        (2026, "tweeduizend zesentwintig"),
        (1_000_000, "één miljoen"),
    ],
)
def test_numbers_as_dutch_words(number, words):
    assert number_words(number) == words


@pytest.mark.parametrize(
    "number, words",
    [
        (1, "eerste"),
        (2, "tweede"),
        (3, "derde"),
        (8, "achtste"),
        (12, "twaalfde"),
        (20, "twintigste"),
        (21, "eenentwintigste"),
        (100, "honderdste"),
        (101, "honderdeerste"),
    ],
)
def test_ordinals(number, words):
    assert ordinal_words(number) == words


@pytest.mark.parametrize(
    "plate, groups, spoken",
    [
        ("12-ABC-3", ["12", "ABC", "3"], "één twee, aa bee cee, drie"),
        ("GH-123-J", ["GH", "123", "J"], "gee haa, één twee drie, jee"),
        ("gh123j", ["GH", "123", "J"], "gee haa, één twee drie, jee"),
        ("AB-CD-12", ["AB", "CD", "12"], "aa bee, cee dee, één twee"),
        ("ABCD12", ["AB", "CD", "12"], "aa bee, cee dee, één twee"),
        ("99 XY 99", ["99", "XY", "99"], "negen negen, iks ij, negen negen"),
    ],
)
def test_licence_plates_spelled_group_by_group(plate, groups, spoken):
    assert plate_groups(plate) == groups
    assert plate_spoken(plate) == spoken


def test_a_plate_with_other_characters_is_not_a_plate():
    with pytest.raises(ValueError):
        plate_groups("12-AB*-3")


@pytest.mark.parametrize(
    "hours, minutes, spoken",
    [
        (14, 35, "veertien uur vijfendertig"),
        (9, 0, "negen uur"),
        (0, 5, "nul uur vijf"),
        (23, 59, "drieëntwintig uur negenenvijftig"),
    ],
)
def test_times(hours, minutes, spoken):
    assert time_spoken(hours, minutes) == spoken


def test_impossible_time_is_refused():
    with pytest.raises(ValueError):
        time_spoken(24, 0)


def test_heights_and_phone_numbers():
    assert height_spoken(180) == "één meter tachtig"
    assert height_spoken(105) == "één meter vijf"
    assert height_spoken(95) == "vijfennegentig centimeter"
    assert digits_spoken("0800-0011") == "nul acht nul nul, nul nul één één"
    assert digits_spoken("+31 6 12345678") == "plus drie één, zes, één twee drie vier vijf zes zeven acht"


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("Gezien om 14:35.", "Gezien om veertien uur vijfendertig."),
        ("Gezien om 14.35 uur.", "Gezien om veertien uur vijfendertig."),
        ("Gezien om 9:05 uur.", "Gezien om negen uur vijf."),
        ("Man van ca. 25 jr.", "Man van ongeveer vijfentwintig jaar."),
        ("Leeftijd 20-25 jaar", "Leeftijd twintig tot vijfentwintig jaar"),
        ("Hij is 1.80 m lang", "Hij is één meter tachtig lang"),
        ("Hij is 1,75m lang", "Hij is één meter vijfenzeventig lang"),
        ("Zij is 160 cm", "Zij is honderdzestig centimeter"),
        ("Met 120 km/u over de A13", "Met honderdtwintig kilometer per uur over de aa dertien"),
        ("Afslag N470", "Afslag en vierhonderdzeventig"),
        ("Kenteken 12-ABC-3 gezien", "Kenteken één twee, aa bee cee, drie gezien"),
        ("Bel 06-12345678", "Bel nul zes, één twee drie vier vijf zes zeven acht"),
        ("Bel dan 112", "Bel dan één één twee"),
        ("o.a. een jas & pet", "onder andere een jas en pet"),
        ("de 3e straat links", "de derde straat links"),
        ("zo'n 500 m verder", "zo'n vijfhonderd meter verder"),
        ("bijv. 1,5 kg", "bijvoorbeeld één komma vijf kilo"),
        ("Hij is 1.80 m. Hij rent.", "Hij is één meter tachtig. Hij rent."),
        ("Hij is 1.80 m. lang", "Hij is één meter tachtig lang"),
        ("Nog 200 m.", "Nog tweehonderd meter."),
        ("Kanaalweg 12a, 2611 AB Delft", "Kanaalweg twaalf aa, twee zes één één, aa bee Delft"),
        ("Huisnummer 3 en 3e verdieping", "Huisnummer drie en derde verdieping"),
    ],
)
def test_to_spoken(written, spoken):
    assert to_spoken(written) == spoken


def test_to_spoken_leaves_no_digits_in_a_typical_description():
    text = to_spoken("Man ca. 30 jr, 1.85 m, gezien om 22:10 bij huisnummer 14, 2 tassen")
    assert not any(c.isdigit() for c in text)


def test_clean_text_cleans_what_it_can():
    assert clean_text("  Let\top:\x00 **rode** jas!!!  ") == "Let op: rode jas!"
    assert clean_text("‘zwarte’ pet – “nieuw”…") == "'zwarte' pet - \"nieuw\"..."
    assert clean_text("a\u200bb") == "ab"


@pytest.mark.parametrize(
    "text, problem, dutch",
    [
        ("Zie https://politie.nl/zaak", "web address", "internetadres"),
        ("Zie www.burgernet.nl voor meer", "web address", "internetadres"),
        ("Kijk op politie.nl", "web address", "internetadres"),
        ("Mail tips@politie.nl", "e-mail address", "e-mailadres"),
        ("Rode jas 😀", "emoji", "emoji"),
        ("Gezien ✈ bij vliegveld", "emoji", "emoji"),
        ("<b>Rode</b> jas", "markup", "opmaakcode"),
        ("Zie [hier](http://x)", "markup", "opmaakcode"),
        ("Naam Иван", "Latin script", "ander schrift"),
    ],
)
def test_unspeakable_text_is_refused_with_a_clear_message(text, problem, dutch):
    with pytest.raises(UnspeakableText) as caught:
        clean_text(text)
    assert problem in str(caught.value)
    assert dutch in caught.value.user_message
    assert "voorgelezen" in caught.value.user_message
    assert caught.value.problems


def test_accented_latin_names_are_speakable():
    assert clean_text("Zoë Müller-Ørsted") == "Zoë Müller-Ørsted"


def test_a_dutch_number_in_international_form_is_said_as_a_caller_dials_it():
    assert phone_spoken("+318000011") == "nul acht nul nul nul nul één één"
    assert phone_spoken("+31 85 123 4567") == "nul acht vijf één twee drie vier vijf zes zeven"
    assert phone_spoken("0800-0011") == digits_spoken("0800-0011")
    assert phone_spoken("+32 2 123 45 67").startswith("plus drie twee")  # a foreign number stays


def test_the_same_number_written_two_ways_is_one_number():
    assert same_number("+318000011", "0800-0011")
    assert same_number("0031 800 0011", "0800-0011")
    assert not same_number("+318000012", "0800-0011")
