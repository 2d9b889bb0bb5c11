"""Free text as centralists type it: plates in any case, dates, times, abbreviations, ranges."""

from __future__ import annotations

import pytest

from prompts.spoken import (
    ABBREVIATIONS,
    date_spoken,
    expand_abbreviations,
    leftover_abbreviations,
    sidecode_groups,
    to_spoken,
)


@pytest.mark.parametrize(
    "written, spoken",
    [
        # The plates from issue 16: any case, dashes, spaces or none.
        ("kenteken 12abc3", "kenteken één twee, aa bee cee, drie"),
        ("kenteken GH 123 J", "kenteken gee haa, één twee drie, jee"),
        ("kenteken gh-123-j", "kenteken gee haa, één twee drie, jee"),
        ("Auto met kenteken gh 123 j gezien", "Auto met kenteken gee haa, één twee drie, jee gezien"),
        ("Zag GH 123 J wegrijden", "Zag gee haa, één twee drie, jee wegrijden"),
        ("Een grijze Golf, 1-XKL-23.", "Een grijze Golf, één, iks kaa el, twee drie."),
        ("Scooter met kenteken ddk02b", "Scooter met kenteken dee dee kaa, nul twee, bee"),
        ("busje 99-VTB-4 gezien", "busje negen negen, vee tee bee, vier gezien"),
        ("Kenteken: 34 LRJ 5", "Kenteken: drie vier, el er jee, vijf"),
        ("kenteken begint met GH", "kenteken begint met gee haa"),
        ("Duits kenteken B-AB-1234", "Duits kenteken bee, aa bee, één twee drie vier"),
        # Not plates: words, a postcode, lower case with spaces without "kenteken".
        ("kenteken onbekend", "kenteken onbekend"),
        ("postcode 2611AB", "postcode twee zes één één, aa bee"),
        ("om 10 uur 5 gezien", "om tien uur vijf gezien"),
    ],
)
def test_plates_as_people_type_them(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(
    "candidate, groups",
    [
        ("12abc3", ["12", "ABC", "3"]),
        ("gh 123 j", ["GH", "123", "J"]),
        ("AB1234", ["AB", "12", "34"]),
        ("abcd12", ["AB", "CD", "12"]),
        ("12-34-56", None),  # digits only: no sidecode
        ("GH-12-3", None),  # too short
        ("GHJ-12-34", None),  # XXX-99-99 is no sidecode
    ],
)
def test_sidecode_shapes(candidate, groups):
    assert sidecode_groups(candidate) == groups


@pytest.mark.parametrize(
    "written, spoken",
    [
        # issue 16: "28-11" was read as a range.
        ("28-11", "achtentwintig november"),
        ("Vermist sinds 28-11-2026.", "Vermist sinds achtentwintig november tweeduizend zesentwintig."),
        ("Gezien op 28 nov.", "Gezien op achtentwintig november."),
        ("Gezien op 28 nov. Hij liep.", "Gezien op achtentwintig november. Hij liep."),
        ("op 3-5 gezien", "op drie mei gezien"),
        ("op 28/11", "op achtentwintig november"),
        ("28.11.2026", "achtentwintig november tweeduizend zesentwintig"),
        ("sinds 1-3-25", "sinds één maart tweeduizend vijfentwintig"),
        ("t/m 30-11", "tot en met dertig november"),
        ("zaterdag 5 december", "zaterdag vijf december"),
        # Ranges stay ranges: a unit after, "tussen" before, or rising numbers.
        ("Leeftijd 20-25 jaar", "Leeftijd twintig tot vijfentwintig jaar"),
        ("tussen 14-16 uur", "tussen veertien en zestien uur"),
        ("groep van 3-4 jongens", "groep van drie tot vier jongens"),
        ("huisnummers 10-12", "huisnummers tien tot twaalf"),
        ("31-2", "eenendertig tot twee"),  # no such date
        ("Het is 24/7 bereikbaar", "Het is dag en nacht bereikbaar"),
    ],
)
def test_dates_and_ranges(written, spoken):
    assert to_spoken(written) == spoken


def test_date_spoken():
    assert date_spoken(1, 3) == "één maart"
    assert date_spoken(28, 11, 2026) == "achtentwintig november tweeduizend zesentwintig"


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("om 14:35", "om veertien uur vijfendertig"),
        ("om 14.35 uur", "om veertien uur vijfendertig"),
        ("om 14.35 gezien", "om veertien uur vijfendertig gezien"),
        ("omstreeks 9.05", "omstreeks negen uur vijf"),
        ("om 14u35", "om veertien uur vijfendertig"),
        ("om 14h35", "om veertien uur vijfendertig"),
        ("rond 9u", "rond negen uur"),
        ("om 14:35u", "om veertien uur vijfendertig"),
        ("om 1435 uur", "om veertien uur vijfendertig"),
        ("om 22 uur", "om tweeëntwintig uur"),
        ("om half 3", "om half drie"),
        ("2.5 kilo", "twee komma vijf kilo"),  # a decimal, not a time
    ],
)
def test_times_in_common_forms(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("Sieraden t.w.v. € 500", "Sieraden ter waarde van vijfhonderd euro"),
        ("Spullen twv 1.500 euro", "Spullen ter waarde van vijftienhonderd euro"),
        ("i.p.v. een jas een vest", "in plaats van een jas een vest"),
        ("ipv een jas", "in plaats van een jas"),
        ("o.a. een tas en een pet", "onder andere een tas en een pet"),
        ("Z.s.m. bellen.", "Zo snel mogelijk bellen."),
        ("zsm bellen", "zo snel mogelijk bellen"),
        ("m.b.t. de auto", "met betrekking tot de auto"),
        ("Man ca. 35 jr", "Man ongeveer vijfendertig jaar"),
        ("Kerkstr. 12", "Kerkstraat twaalf"),
        ("Molenstr 4", "Molenstraat vier"),
        ("huis nr. 5", "huis nummer vijf"),
        ("t.h.v. de Albert Heijn", "ter hoogte van de Albert Heijn"),
        ("i.v.m. dementie", "in verband met dementie"),
        ("Dhr. Jansen belde", "De heer Jansen belde"),
        ("een tas, pet enz. Hij rende weg", "een tas, pet enzovoort. Hij rende weg"),
        ("5 min. geleden", "vijf minuten geleden"),
        ("verm. richting centrum", "vermoedelijk richting centrum"),
        ("Jansen B.V.", "Jansen B.V."),  # a company, not "bijvoorbeeld"
    ],
)
def test_abbreviations_expanded_in_speech(written, spoken):
    assert to_spoken(written) == spoken


def test_every_abbreviation_in_the_table_is_expanded():
    for written, expansion, dotless in ABBREVIATIONS:
        text = f"iets {written} iets"
        assert expand_abbreviations(text) == f"iets {expansion} iets", written
        assert not leftover_abbreviations(expand_abbreviations(text)), written
        if dotless:
            bare = written.replace(".", "")
            assert expand_abbreviations(f"iets {bare} iets") == f"iets {expansion} iets", bare


def test_written_expansion_keeps_digits():
    assert (
        expand_abbreviations("man ca. 35 jr, t.w.v. 500 euro")
        == "man ongeveer 35 jaar, ter waarde van 500 euro"
    )
