"""Alert SMS in up to three concatenated segments (issue 16): real action texts of each
incident type arrive whole, in the order of what matters most (what to look for, where,
when, the call-back number), with the sender and the STOP footer; only beyond three
segments are details dropped, the free text first."""

from __future__ import annotations

import pytest

from prompts.messages import Sender, compose_alert
from prompts.sms import MULTI_GSM7, sms_length
from prompts.spoken import leftover_abbreviations

CALLBACK = "0800-0011"
SENDER = Sender(control_room="Meldkamer Oost-Nederland", stop_number="097010200300")
TAIL = f"Gezien? Bel gratis {CALLBACK}. Stop? Sms STOP naar 097010200300."

# (incident type, description, free text, what to look for, where, when), as centralists fill in
# the form on a busy evening.
REAL_ACTIONS = [
    (
        "suspect",
        {
            "gender": "male",
            "age": "ca. 25-30",
            "height_cm": 185,
            "build": "athletic",
            "skin_colour": "light",
            "hair": "kort blond",
            "features": "tatoeage in de nek, baard",
            "clothing": "donkergrijze hoodie met capuchon, zwarte joggingbroek, witte sneakers",
            "items": "zwarte rugzak",
            "transport": "scooter",
            "direction": "richting Deventer-centrum via de Brinkgreverweg",
        },
        "Overval op tankstation Shell a/d Holterweg om 21:40. Mogelijk gewapend, niet benaderen!",
        "een man van ongeveer 25-30 jaar",
        "richting Deventer-centrum via de Brinkgreverweg",
        None,
    ),
    (
        "missing_person",
        {
            "name": "Gerrit Hoekstra",
            "name_consent": True,
            "gender": "male",
            "age": "84",
            "height_cm": 172,
            "build": "slim",
            "hair": "wit, kort",
            "clothing": "bruine ribbroek, blauw overhemd, pantoffels",
            "medical_urgency": True,
            "medical_note": "Hij heeft dementie en heeft zijn medicatie nodig",
            "last_seen_place": "woonzorgcentrum De Ooievaar, Boxbergerweg",
            "last_seen_time": "19:15",
        },
        "Loopt vaak richting het station. Kan verward reageren, spreek hem rustig aan.",
        "Gerrit Hoekstra, een vermiste man van 84 jaar",
        "bij woonzorgcentrum De Ooievaar, Boxbergerweg",
        "om 19:15 uur",
    ),
    (
        "missing_child",
        {
            "gender": "female",
            "age": "6",
            "height_cm": 115,
            "hair": "lang bruin in een staart",
            "clothing": "roze winterjas, spijkerbroek, gele laarsjes, knuffelkonijn bij zich",
            "last_seen_place": "speeltuin in het Rijsterborgherpark",
            "last_seen_time": "16:30",
        },
        "Moeder is in de buurt. Kind reageert op de naam Noor.",
        "een vermist meisje van 6 jaar",
        "bij speeltuin in het Rijsterborgherpark",
        "om 16:30 uur",
    ),
    (
        "vehicle",
        {
            "vehicle_kind": "van",
            "colour": "white",
            "make": "Volkswagen",
            "model": "Transporter",
            "plate": "vx-123-b",
            "features": "ladderrek op het dak, deuk in de rechter zijdeur",
            "occupants": "twee mannen, bestuurder met pet",
            "direction": "richting de A1, afslag Deventer-Oost",
        },
        "Bus gebruikt bij inbraak in bedrijfspand, kenteken mogelijk vals.",
        "een witte bestelbus Volkswagen Transporter VX-123-B",
        "richting de A1, afslag Deventer-Oost",
        None,
    ),
    (
        "other",
        {
            "subject": "loslopende koeien",
            "details": "Ca. 10 zwartbonte koeien, uitgebroken bij de boerderij aan de Zweersweg.",
            "direction": "richting de N337",
        },
        "Niet zelf proberen te vangen, houd afstand en waarschuw het verkeer.",
        "loslopende koeien",
        "richting de N337",
        None,
    ),
]


@pytest.mark.parametrize(
    "kind, description, free, what, where, when", REAL_ACTIONS, ids=lambda v: str(v)[:14]
)
def test_a_real_action_arrives_whole_in_three_segments(kind, description, free, what, where, when):
    sms = compose_alert(kind, description, free, CALLBACK, sender=SENDER).sms
    length = sms_length(sms)
    assert length.encoding == "GSM-7"
    assert 1 <= length.segments <= 3
    assert len(sms) <= 3 * MULTI_GSM7 or length.segments == 1
    assert not leftover_abbreviations(sms), sms
    assert sms.startswith("Burgernet (Meldkamer Oost-Nederland): kijk uit naar " + what)
    # Nothing dropped: the free text is there, and every part in the order that matters.
    assert free.split(".")[0].split(" ")[0] in sms
    positions = [sms.index(what), sms.index(where)]
    if when:
        positions.append(sms.index(when))
    positions.append(sms.index(f"Bel gratis {CALLBACK}"))
    assert positions == sorted(positions), sms
    assert sms.endswith(TAIL)


def test_beyond_three_segments_the_free_text_goes_first_and_the_description_stays():
    kind, description, _, what, where, when = REAL_ACTIONS[1]
    long_free = "Hij is eerder vandaag ook al gezien bij het winkelcentrum De Vijfhoek en bij de kerk. " * 3
    sms = compose_alert(kind, description, long_free, CALLBACK, sender=SENDER).sms
    assert sms_length(sms).segments <= 3
    assert "winkelcentrum" not in sms
    assert what in sms and where in sms and when in sms and sms.endswith(TAIL)


def test_a_description_beyond_three_segments_drops_the_least_important_parts_first():
    kind, description, _, what, where, _ = REAL_ACTIONS[0]
    description = dict(
        description,
        features="tatoeage van een draak in de nek en op beide onderarmen, piercing in de linker wenkbrauw",
        items="zwarte rugzak van Eastpak met reflecterende strepen en een sporttas van Nike",
    )
    sms = compose_alert(kind, description, "", CALLBACK, sender=SENDER).sms
    assert sms_length(sms).segments <= 3
    assert "sporttas" not in sms  # what they carry goes before what they look like
    assert what in sms and "donkergrijze hoodie" in sms and where in sms and sms.endswith(TAIL)
