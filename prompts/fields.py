"""The structured description (signalement) per incident type, and its validation.

`description_fields(incident_type)` tells the web form what to show (name, Dutch label, kind,
choices, limits); `validate_description` checks a submitted dict against the same specs and
returns it cleaned, so the form and the message composer never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from db.models import IncidentType
from prompts.errors import InvalidDescription, UnknownIncidentType
from prompts.spoken import clean_text, plate_groups

# Field kinds the web form knows how to draw.
TEXT, CHOICE, NUMBER, AGE, TIME, PLATE, FLAG = "text", "choice", "number", "age", "time", "plate", "flag"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # Dutch, for the form
    kind: str  # text | choice | number | age | time | plate | flag
    choices: tuple[tuple[str, str], ...] = ()  # (value, Dutch label)
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    required: bool = False
    help: str = ""  # Dutch hint shown under the field, with an example

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def in_range(self, number: int) -> bool:
        return (self.min_value is None or number >= self.min_value) and (
            self.max_value is None or number <= self.max_value
        )


GENDERS = (("male", "man"), ("female", "vrouw"), ("unknown", "onbekend"))
BUILDS = (
    ("slim", "slank"),
    ("petite", "tenger"),
    ("average", "normaal"),
    ("athletic", "atletisch"),
    ("sturdy", "fors"),
    ("heavy", "zwaar"),
)
SKIN_COLOURS = (("light", "licht"), ("tinted", "getint"), ("dark", "donker"))
TRANSPORTS = (
    ("on_foot", "te voet"),
    ("bicycle", "fiets"),
    ("scooter", "scooter"),
    ("motorbike", "motor"),
    ("car", "auto"),
    ("public_transport", "openbaar vervoer"),
)
VEHICLE_KINDS = (
    ("car", "personenauto"),
    ("van", "bestelbus"),
    ("truck", "vrachtwagen"),
    ("motorbike", "motor"),
    ("scooter", "scooter"),
    ("bicycle", "fiets"),
)
COLOURS = (
    ("white", "wit"),
    ("black", "zwart"),
    ("grey", "grijs"),
    ("silver", "zilver"),
    ("blue", "blauw"),
    ("red", "rood"),
    ("green", "groen"),
    ("yellow", "geel"),
    ("brown", "bruin"),
    ("beige", "beige"),
    ("orange", "oranje"),
    ("purple", "paars"),
)

_GENDER = FieldSpec("gender", "Geslacht", CHOICE, GENDERS)
_AGE = FieldSpec(
    "age", "Leeftijd (schatting)", AGE, min_value=0, max_value=110, help="Bijvoorbeeld 25 of 20-25"
)
_HEIGHT = FieldSpec("height_cm", "Lengte in cm", NUMBER, min_value=40, max_value=230, help="Bijvoorbeeld 180")
_BUILD = FieldSpec("build", "Postuur", CHOICE, BUILDS)
_SKIN = FieldSpec("skin_colour", "Huidskleur (alleen als bekend)", CHOICE, SKIN_COLOURS)
_HAIR = FieldSpec("hair", "Haar", TEXT, max_length=60, help="Bijvoorbeeld: kort zwart haar")
_CLOTHING = FieldSpec(
    "clothing", "Kleding", TEXT, max_length=160, help="Bijvoorbeeld: een blauwe jas en een spijkerbroek"
)
_FEATURES = FieldSpec(
    "features", "Bijzondere kenmerken", TEXT, max_length=120, help="Bijvoorbeeld: een bril en een baard"
)
_TRANSPORT = FieldSpec("transport", "Vervoer", CHOICE, TRANSPORTS)
_LAST_SEEN_PLACE = FieldSpec(
    "last_seen_place", "Laatst gezien bij", TEXT, max_length=80, help="Bijvoorbeeld: de Markt"
)
_LAST_SEEN_TIME = FieldSpec("last_seen_time", "Laatst gezien om", TIME, help="Bijvoorbeeld 14:35")
_DIRECTION = FieldSpec("direction", "Richting", TEXT, max_length=80, help="Bijvoorbeeld: het station")

_FIELDS: dict[IncidentType, tuple[FieldSpec, ...]] = {
    IncidentType.SUSPECT: (
        _GENDER,
        _AGE,
        _HEIGHT,
        _BUILD,
        _SKIN,
        _HAIR,
        _FEATURES,
        _CLOTHING,
        FieldSpec("items", "Heeft bij zich", TEXT, max_length=80, help="Bijvoorbeeld: een zwarte rugtas"),
        _TRANSPORT,
        _DIRECTION,
    ),
    IncidentType.MISSING_PERSON: (
        FieldSpec("name", "Naam (alleen met toestemming van de familie)", TEXT, max_length=60),
        FieldSpec("name_consent", "Familie geeft toestemming de naam te noemen", FLAG),
        _GENDER,
        _AGE,
        _HEIGHT,
        _BUILD,
        _SKIN,
        _HAIR,
        _FEATURES,
        _CLOTHING,
        _TRANSPORT,
        FieldSpec("medical_urgency", "Heeft dringend medische hulp nodig", FLAG),
        FieldSpec(
            "medical_note",
            "Toelichting medisch",
            TEXT,
            max_length=100,
            help="Bijvoorbeeld: heeft dementie en kan verward zijn",
        ),
        _LAST_SEEN_PLACE,
        _LAST_SEEN_TIME,
    ),
    IncidentType.VEHICLE: (
        FieldSpec("vehicle_kind", "Soort voertuig", CHOICE, VEHICLE_KINDS),
        FieldSpec("colour", "Kleur", CHOICE, COLOURS),
        FieldSpec("make", "Merk", TEXT, max_length=30, help="Bijvoorbeeld: Volkswagen"),
        FieldSpec("model", "Type", TEXT, max_length=30, help="Bijvoorbeeld: Golf"),
        FieldSpec("plate", "Kenteken", PLATE, max_length=10, help="Bijvoorbeeld: 12-ABC-3"),
        FieldSpec(
            "features", "Bijzonderheden", TEXT, max_length=100, help="Bijvoorbeeld: schade aan de linkerkant"
        ),
        FieldSpec("occupants", "Inzittenden", TEXT, max_length=100, help="Bijvoorbeeld: twee mannen"),
        _LAST_SEEN_PLACE,
        _LAST_SEEN_TIME,
        _DIRECTION,
    ),
    IncidentType.OTHER: (
        FieldSpec(
            "subject",
            "Waar moeten deelnemers op letten",
            TEXT,
            max_length=120,
            required=True,
            help="Bijvoorbeeld: een loslopend paard",
        ),
        FieldSpec("details", "Details", TEXT, max_length=200),
        _DIRECTION,
    ),
}
# A missing child has the same description as a missing person.
_FIELDS[IncidentType.MISSING_CHILD] = _FIELDS[IncidentType.MISSING_PERSON]

# At least one of these must be filled: a description must be clear enough to look out for.
_DESCRIPTIVE = {
    IncidentType.SUSPECT: {"age", "height_cm", "build", "hair", "features", "clothing", "items"},
    IncidentType.MISSING_PERSON: {"name", "age", "height_cm", "build", "hair", "features", "clothing"},
    IncidentType.MISSING_CHILD: {"name", "age", "height_cm", "build", "hair", "features", "clothing"},
    IncidentType.VEHICLE: {"plate", "make", "model", "colour"},
    IncidentType.OTHER: {"subject"},
}


def incident_type_of(value: str | IncidentType) -> IncidentType:
    try:
        return IncidentType(value)
    except ValueError:
        raise UnknownIncidentType(
            f"unknown incident type {value!r}; expected one of " + ", ".join(t.value for t in IncidentType),
            "Onbekend soort incident.",
        ) from None


def description_fields(incident_type: str | IncidentType) -> list[FieldSpec]:
    return list(_FIELDS[incident_type_of(incident_type)])


@dataclass(frozen=True)
class Age:
    low: int
    high: int | None = None


_AGE_PATTERN = re.compile(
    r"^(?:ca\.?|ongeveer|\+/-|±)?\s*(\d{1,3})\s*(?:(?:-|tot)\s*(\d{1,3}))?\s*(?:jaar|jr\.?)?$", re.IGNORECASE
)


def parse_age(value: Any, spec: FieldSpec = _AGE) -> Age:
    text = str(value).strip()
    match = _AGE_PATTERN.match(text)
    if not match:
        raise _invalid(
            spec,
            f"age {text!r} is not a number or a range like 20-25",
            "geef een getal of een bereik zoals 20-25",
        )
    low, high = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    if high is not None and high < low:
        low, high = high, low
    if high == low:
        high = None
    for number in (low, high):
        if number is not None and not spec.in_range(number):
            raise _invalid(spec, f"age {number} out of range", f"tussen {spec.min_value} en {spec.max_value}")
    return Age(low, high)


def _invalid(spec: FieldSpec, message: str, dutch: str) -> InvalidDescription:
    return InvalidDescription(f"{spec.name}: {message}", f"{spec.label}: {dutch}.", spec.name)


def _clean_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == FLAG:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "on", "yes", "ja")
        return bool(value)
    if spec.kind == CHOICE:
        if value not in spec.choice_values:
            raise _invalid(
                spec, f"{value!r} is not one of {spec.choice_values}", "kies een van de mogelijkheden"
            )
        return value
    if spec.kind == NUMBER:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise _invalid(spec, f"{value!r} is not a whole number", "geef een heel getal") from None
        if not spec.in_range(number):
            raise _invalid(
                spec,
                f"{number} is outside {spec.min_value}..{spec.max_value}",
                f"geef een getal tussen {spec.min_value} en {spec.max_value}",
            )
        return number
    if spec.kind == AGE:
        age = parse_age(value, spec)
        return f"{age.low}-{age.high}" if age.high is not None else str(age.low)
    if spec.kind == TIME:
        match = re.fullmatch(r"([01]?\d|2[0-3])[:.]([0-5]\d)", str(value).strip())
        if not match:
            raise _invalid(spec, f"{value!r} is not a time HH:MM", "geef een tijd zoals 14:35")
        return f"{int(match.group(1)):02d}:{match.group(2)}"
    if spec.kind == PLATE and not re.fullmatch(r"[A-Za-z0-9\s-]*", str(value)):
        raise _invalid(spec, f"{value!r} is not a licence plate", "alleen letters en cijfers, zoals 12-ABC-3")
    text = clean_text(str(value))
    if spec.max_length is not None and len(text) > spec.max_length:
        raise _invalid(
            spec,
            f"{len(text)} characters, at most {spec.max_length}",
            f"maximaal {spec.max_length} tekens (nu {len(text)})",
        )
    if spec.kind == PLATE:
        try:
            groups = plate_groups(text)
        except ValueError:
            raise _invalid(
                spec, f"{text!r} is not a licence plate", "alleen letters en cijfers, zoals 12-ABC-3"
            ) from None
        if not (2 <= sum(len(g) for g in groups) <= 8 and len(groups) <= 4):
            raise _invalid(spec, f"{text!r} is not a licence plate", "zoals 12-ABC-3")
        return "-".join(groups)
    return text


def validate_description(incident_type: str | IncidentType, description: dict) -> dict:
    """Check and clean a description; unknown fields, bad values and emptiness are errors.

    Empty values are dropped. A name of a missing person is only kept with the family's
    consent (`name_consent`); without it the name is refused, never silently spoken.
    """
    kind = incident_type_of(incident_type)
    specs = {spec.name: spec for spec in _FIELDS[kind]}
    if not isinstance(description, dict):
        raise InvalidDescription(
            "description must be a mapping of field names to values", "Het signalement is ongeldig."
        )
    unknown = sorted(set(description) - set(specs))
    if unknown:
        raise InvalidDescription(
            f"unknown description fields for {kind.value}: {', '.join(unknown)}",
            f"Onbekende velden in het signalement: {', '.join(unknown)}.",
            unknown[0],
        )
    cleaned: dict[str, Any] = {}
    for name, value in description.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        value = _clean_value(specs[name], value)
        if value == "" or value is False:
            continue
        cleaned[name] = value
    for spec in specs.values():
        if spec.required and spec.name not in cleaned:
            raise _invalid(spec, "is required", "dit veld is verplicht")
    if "name" in cleaned and not cleaned.get("name_consent"):
        raise InvalidDescription(
            "a missing person's name may only be used with the family's consent (name_consent)",
            "Noem de naam alleen als de familie toestemming heeft gegeven; vink dat aan of laat de naam weg.",
            "name",
        )
    if not (set(cleaned) & _DESCRIPTIVE[kind]):
        labels = [specs[n].label for n in specs if n in _DESCRIPTIVE[kind]]
        raise InvalidDescription(
            f"description for {kind.value} is too thin: fill at least one of "
            + ", ".join(sorted(_DESCRIPTIVE[kind])),
            "Het signalement is niet duidelijk genoeg. Vul minstens een van deze velden in: "
            + ", ".join(labels)
            + ".",
        )
    return cleaned


def choice_label(spec_choices: tuple[tuple[str, str], ...], value: str) -> str:
    return dict(spec_choices)[value]


__all__ = [
    "FieldSpec",
    "Age",
    "description_fields",
    "validate_description",
    "parse_age",
    "incident_type_of",
    "choice_label",
]
