"""What a simulated caller says on the call-back line: a short Dutch sighting (training mode).

`sighting_text(incident_type, description, rng)` makes one plausible report from the action's
structured description (prompts.fields), varied by the random generator it is given: "Ik zie
een jongen met een rode jas bij het station. Hij loopt richting de markt." Pure: the same
generator state gives the same words, so a test can name what the recording says.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from db.models import IncidentType

OPENINGS = ("Ik zie", "Ik zag net", "Volgens mij zie ik", "Hallo, ik zie hier")
PLACES = (
    "bij het station",
    "bij de supermarkt op de hoek",
    "op het plein",
    "bij de bushalte",
    "in het park",
    "bij de speeltuin",
    "op de fietsbrug",
    "bij de bibliotheek",
    "voor mijn deur",
)
HEADINGS = ("het centrum", "de snelweg", "het station", "de markt", "het park")
CLOSINGS = ("", "", "Ik blijf hier even kijken.", "Het was ongeveer twee minuten geleden.")
# The adjective form of a colour choice (prompts.fields.COLOURS): "een rode auto".
COLOUR_ADJECTIVES = {
    "white": "witte",
    "black": "zwarte",
    "grey": "grijze",
    "silver": "zilveren",
    "blue": "blauwe",
    "red": "rode",
    "green": "groene",
    "yellow": "gele",
    "brown": "bruine",
    "beige": "beige",
    "orange": "oranje",
    "purple": "paarse",
}
VEHICLE_NOUNS = {
    "car": "auto",
    "van": "bestelbus",
    "truck": "vrachtwagen",
    "motorbike": "motor",
    "scooter": "scooter",
    "bicycle": "fiets",
}


def _text(description: Mapping[str, Any], name: str) -> str:
    value = description.get(name)
    return str(value).strip() if value not in (None, "") else ""


def _age(description: Mapping[str, Any]) -> int | None:
    digits = "".join(ch if ch.isdigit() else " " for ch in _text(description, "age")).split()
    return int(digits[0]) if digits else None


def _person(incident: IncidentType, description: Mapping[str, Any]) -> tuple[str, str]:
    """(who is seen, the pronoun for a second sentence)."""
    gender = _text(description, "gender")
    age = _age(description)
    if incident == IncidentType.MISSING_CHILD:
        children = {"male": ("een jongen", "Hij"), "female": ("een meisje", "Ze")}
        return children.get(gender, ("een kind", "Het"))
    if gender == "female":
        who, pronoun = "een vrouw", "Ze"
    elif gender == "male":
        who, pronoun = "een man", "Hij"
    else:
        who, pronoun = "iemand", "Die persoon"
    if incident == IncidentType.MISSING_PERSON and age is not None and age >= 65:
        who = who.replace("een ", "een oudere ") if who != "iemand" else "een oudere persoon"
    return who, pronoun


def _person_details(description: Mapping[str, Any], rng: random.Random) -> str:
    """One or two things the caller noticed: clothing first, else hair, features or items."""
    seen = [
        f"met {value}"
        for value in (
            _text(description, "clothing"),
            _text(description, "hair"),
            _text(description, "features"),
            _text(description, "items"),
        )
        if value
    ]
    if not seen:
        return ""
    picked = seen[:1] if len(seen) == 1 or rng.random() < 0.6 else seen[:2]
    return " " + " en ".join(picked)


def _vehicle(description: Mapping[str, Any], rng: random.Random) -> tuple[str, str]:
    noun = VEHICLE_NOUNS.get(_text(description, "vehicle_kind"), "auto")
    make = " ".join(v for v in (_text(description, "make"), _text(description, "model")) if v)
    colour = COLOUR_ADJECTIVES.get(_text(description, "colour"), "")
    who = " ".join(v for v in ("een", colour, make or noun) if v)
    plate = _text(description, "plate").upper()
    if plate:
        if rng.random() < 0.5:
            who += f" met kenteken {plate}"
        else:
            who += f", het kenteken begint met {plate.replace('-', ' ').split()[0]}"
    return who, "Hij"


def sighting_text(
    incident_type: IncidentType | str, description: Mapping[str, Any] | None, rng: random.Random
) -> str:
    """A short spoken sighting for an action of this type and description (Dutch)."""
    incident = IncidentType(incident_type)
    description = description or {}
    place = rng.choice(PLACES)
    heading = _text(description, "direction") or rng.choice(HEADINGS)
    if incident == IncidentType.VEHICLE:
        who, pronoun = _vehicle(description, rng)
        moving = f"{pronoun} rijdt richting {heading}."
    elif incident == IncidentType.OTHER:
        who = _text(description, "subject") or "iets vreemds"
        pronoun, moving = "", ""
    else:
        who, pronoun = _person(incident, description)
        who += _person_details(description, rng)
        if incident in (IncidentType.MISSING_CHILD, IncidentType.MISSING_PERSON):
            moving = rng.choice((f"{pronoun} lijkt de weg kwijt.", f"{pronoun} loopt richting {heading}."))
        else:
            moving = f"{pronoun} loopt richting {heading}."
    sentences = [f"{rng.choice(OPENINGS)} {who} {place}.", moving, rng.choice(CLOSINGS)]
    return " ".join(s for s in sentences if s)
