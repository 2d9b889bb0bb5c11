"""Where an action is, in words a participant recognises: "Delft, rond de Markt".

Pure functions. The centralist's location label ("Markt 1, Delft" from the address search,
"Markt, Delft" typed) becomes the area the alert names in every channel. The house number is
left out on purpose: the message says which neighbourhood, not whose door. A point clicked on
the map without a name ("Kaartpunt 52.01, 4.35") or a bare postcode names no area.
"""

from __future__ import annotations

import re

AREA_MAX = 80
# Street names that take "het" ("het Rembrandtplein"); every other street takes "de".
_NEUTER_ENDINGS = ("plein", "park", "plantsoen", "erf", "veld", "bos", "hof", "eiland", "spui")
_ARTICLES = ("de ", "het ", "'t ")
_HOUSE_NUMBER = re.compile(r"\s+\d+\s*[a-zA-Z]?(?:[-\s]?\w{1,4})?$")
_POSTCODE = re.compile(r"^\d{4}\s?[a-zA-Z]{2}\b")
_COORDINATES = re.compile(r"^-?\d+(?:[.,]\d+)?\s*[,;]\s*-?\d+(?:[.,]\d+)?$")


def _street(part: str) -> str:
    """ "Markt 1" -> "Markt"; "Oude Delft 12a" -> "Oude Delft"."""
    return _HOUSE_NUMBER.sub("", part.strip()).strip()


def _with_article(street: str) -> str:
    if street.lower().startswith(_ARTICLES):
        return street
    article = "het" if street.lower().endswith(_NEUTER_ENDINGS) else "de"
    return f"{article} {street}"


def area_of(location_label: str) -> str:
    """The area an alert names for a location label; "" when the label names no place.

    "Markt 1, Delft" -> "Delft, rond de Markt"; "Delft" -> "Delft"."""
    label = " ".join((location_label or "").split())
    if not label or label.lower().startswith("kaartpunt") or _COORDINATES.match(label):
        return ""
    parts = [p.strip() for p in label.split(",") if p.strip()]
    if not parts or _POSTCODE.match(parts[0]) and len(parts) == 1:
        return ""
    if len(parts) == 1:
        area = _street(parts[0])
    else:
        street, town = _street(parts[0]), parts[-1]
        town = _POSTCODE.sub("", town).strip()
        if _POSTCODE.match(street) or not street:
            area = town
        elif not town:
            area = f"rond {_with_article(street)}"
        else:
            area = f"{town}, rond {_with_article(street)}"
    if not re.search(r"[A-Za-zÀ-ÿ]", area):
        return ""
    return area[:AREA_MAX].rstrip(" ,")
