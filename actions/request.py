"""A new action as asked for: its fields, their validation and the Dutch names they show under.

`parse_action_request` is pure: it takes the submitted values (already flattened to strings and
lists by the adapter: the console's form, the API's JSON, the CLI's options) and returns an
`ActionRequest` or raises `InvalidActionRequest` with a Dutch message per field.
`validate_request` adds the message composer's checks of the description (prompts), so every
door validates alike. Geocoding an address is I/O and happens before (actions.location).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from actions.errors import InvalidActionRequest
from actions.norms import checked_norms, missing_norms, norms_message
from config.settings import Settings
from db.models import Action, Channel, IncidentType, Outcome
from prompts.errors import PromptError
from prompts.fields import description_fields
from prompts.messages import NO_SENDER, AlertMessage, Sender, compose_alert
from prompts.place import area_of

INCIDENT_LABELS: dict[str, str] = {
    IncidentType.SUSPECT.value: "Verdachte gevlucht",
    IncidentType.MISSING_PERSON.value: "Vermiste persoon",
    IncidentType.MISSING_CHILD.value: "Vermist kind",
    IncidentType.VEHICLE.value: "Voertuig",
    IncidentType.OTHER.value: "Overig",
}
# "... past niet bij een actie over <noun>"
INCIDENT_NOUNS: dict[str, str] = {
    IncidentType.SUSPECT.value: "een verdachte",
    IncidentType.MISSING_PERSON.value: "een vermiste persoon",
    IncidentType.MISSING_CHILD.value: "een vermist kind",
    IncidentType.VEHICLE.value: "een voertuig",
    IncidentType.OTHER.value: "dit onderwerp",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.ARRESTED.value: "Verdachte aangehouden",
    Outcome.FOUND.value: "Persoon gevonden",
    Outcome.VEHICLE_FOUND.value: "Voertuig gevonden",
    Outcome.NO_RESULT.value: "Beëindigd zonder resultaat",
    Outcome.OTHER.value: "Anders",
}
# The outcomes that fit each incident type: a missing child is found, not arrested. A suspect
# may be traced without an arrest ("Persoon gevonden"); a vehicle's driver may be arrested.
_ENDINGS = (Outcome.NO_RESULT, Outcome.OTHER)
OUTCOMES_BY_INCIDENT: dict[str, tuple[Outcome, ...]] = {
    IncidentType.SUSPECT.value: (Outcome.ARRESTED, Outcome.FOUND, *_ENDINGS),
    IncidentType.MISSING_PERSON.value: (Outcome.FOUND, *_ENDINGS),
    IncidentType.MISSING_CHILD.value: (Outcome.FOUND, *_ENDINGS),
    IncidentType.VEHICLE.value: (Outcome.VEHICLE_FOUND, Outcome.ARRESTED, *_ENDINGS),
    IncidentType.OTHER.value: tuple(Outcome),
}


def outcome_labels_for(incident_type: str) -> dict[str, str]:
    """The outcome choices (value -> Dutch label) that fit an action of this incident type."""
    fitting = OUTCOMES_BY_INCIDENT.get(incident_type, tuple(Outcome))
    return {value: label for value, label in OUTCOME_LABELS.items() if Outcome(value) in fitting}


def check_outcome_fits(outcome: str, incident_type: str) -> None:
    """InvalidActionRequest (key "outcome") when the outcome does not fit the incident type."""
    if outcome not in outcome_labels_for(incident_type):
        noun = INCIDENT_NOUNS.get(incident_type, "dit onderwerp")
        raise InvalidActionRequest({"outcome": f"Deze afloop past niet bij een actie over {noun}."})


CHANNEL_LABELS: dict[str, str] = {
    Channel.VOICE.value: "Spraakoproep",
    Channel.SMS.value: "SMS",
    Channel.EMAIL.value: "E-mail",
}

MIN_RADIUS_M = 100
MAX_RADIUS_M = 25_000
MAX_FREE_TEXT = 600
MAX_LABEL = 300
# A loose box around the Netherlands: a point outside it is a typing error, not an incident.
NL_BOUNDS = (50.70, 53.70, 3.20, 7.30)

_MARKUP = re.compile(r"[<>{}\[\]\\`]|&#|javascript:", re.IGNORECASE)


@dataclass(frozen=True)
class ActionRequest:
    incident_type: str
    description: dict[str, str]
    free_text: str
    lat: float
    lon: float
    location_label: str
    radius_m: int
    channels: list[str]
    norms: dict[str, bool] = field(default_factory=dict)


def clean_text(value: object, *, label: str, max_chars: int, errors: dict, key: str) -> str:
    """Strip and check one free-text value: no markup, no control characters, not too long."""
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = f"{label}: ongeldige waarde."
        return ""
    text = unicodedata.normalize("NFC", value).strip()
    text = re.sub(r"[ \t]+", " ", text)
    if len(text) > max_chars:
        errors[key] = f"{label} is te lang: {len(text)} tekens, hooguit {max_chars}."
        return ""
    if _MARKUP.search(text):
        errors[key] = (
            f"{label} bevat niet-toegestane tekens (zoals < > {{ }} [ ]). "
            "Beschrijf de persoon of het voertuig in gewone woorden."
        )
        return ""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n" for ch in text):
        errors[key] = f"{label} bevat onzichtbare stuurtekens."
        return ""
    return text


def parse_float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def field_specs(incident_type: str) -> list:
    """The description fields of an incident type (prompts.fields); none for an unknown type."""
    try:
        return description_fields(incident_type)
    except ValueError:
        return []


def parse_action_request(
    values: Mapping[str, object],
    description_values: Mapping[str, object],
    field_specs: Sequence,
    *,
    max_description_chars: int,
    require_norms: bool = True,
) -> ActionRequest:
    """Validate a flattened submission.

    values: incident_type, free_text, lat, lon, location_label, radius_m, channels (list),
    norms (mapping name -> bool). description_values: the signalement fields by name;
    field_specs: prompts.fields.description_fields(incident_type) (name, label, max_length).
    require_norms=False is for the preview only: the norms gate the start, not the figures.
    """
    errors: dict[str, str] = {}
    incident_type, description, free_text = _checked_message_fields(
        values, description_values, field_specs, max_description_chars, errors
    )
    location_label = clean_text(
        values.get("location_label"), label="Locatie", max_chars=MAX_LABEL, errors=errors, key="location"
    )
    text_refused = any(key.startswith("d_") or key == "free_text" for key in errors)
    if not description and not free_text and "incident_type" not in errors and not text_refused:
        errors.setdefault("description", "Vul een signalement in: zonder beschrijving kan niemand uitkijken.")

    lat, lon = parse_float(values.get("lat")), parse_float(values.get("lon"))
    if lat is None or lon is None:
        errors.setdefault("location", "Kies de locatie: zoek een adres of klik op de kaart.")
    elif not (NL_BOUNDS[0] <= lat <= NL_BOUNDS[1] and NL_BOUNDS[2] <= lon <= NL_BOUNDS[3]):
        errors["location"] = "De locatie ligt buiten Nederland. Controleer het adres of de kaart."

    radius = parse_float(values.get("radius_m"))
    if radius is None:
        errors["radius_m"] = "Vul de straal in meters in."
    elif not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
        errors["radius_m"] = f"De straal moet tussen {MIN_RADIUS_M} en {MAX_RADIUS_M} meter liggen."

    raw_channels = values.get("channels") or []
    if isinstance(raw_channels, str):
        raw_channels = [raw_channels]
    chosen = {str(c) for c in raw_channels} if isinstance(raw_channels, (list, tuple, set)) else set()
    channels = [c for c in CHANNEL_LABELS if c in chosen]
    if not channels:
        errors["channels"] = "Kies minstens één kanaal."
    elif len(channels) != len(chosen):
        errors["channels"] = "Onbekend kanaal gekozen."

    given_norms = values.get("norms")
    norms = checked_norms(given_norms if isinstance(given_norms, Mapping) else None)
    if require_norms and incident_type in INCIDENT_LABELS:
        missing = missing_norms(incident_type, norms)
        if missing:
            errors["norms"] = norms_message(missing)

    if errors or lat is None or lon is None or radius is None:
        raise InvalidActionRequest(errors)
    return ActionRequest(
        incident_type=incident_type,
        description=description,
        free_text=free_text,
        lat=round(lat, 6),
        lon=round(lon, 6),
        location_label=location_label,
        radius_m=int(round(radius)),
        channels=channels,
        norms=norms,
    )


def _checked_message_fields(
    values: Mapping[str, object],
    description_values: Mapping[str, object],
    field_specs: Sequence,
    max_description_chars: int,
    errors: dict[str, str],
) -> tuple[str, dict[str, str], str]:
    incident_type = str(values.get("incident_type") or "")
    if incident_type not in INCIDENT_LABELS:
        errors["incident_type"] = "Kies het soort incident."
    description: dict[str, str] = {}
    known = {spec.name: spec for spec in field_specs}
    for name in description_values:
        if name not in known:
            errors[f"d_{name}"] = f"Onbekend signalementveld: {str(name)[:40]}."
    for name, spec in known.items():
        label = getattr(spec, "label", name)
        limit = min(getattr(spec, "max_length", None) or max_description_chars, max_description_chars)
        text = clean_text(
            description_values.get(name), label=label, max_chars=limit, errors=errors, key=f"d_{name}"
        )
        if text:
            description[name] = text
    free_text = clean_text(
        values.get("free_text"), label="Vrije tekst", max_chars=MAX_FREE_TEXT, errors=errors, key="free_text"
    )
    return incident_type, description, free_text


def check_message_fields(
    values: Mapping[str, object], description_values: Mapping[str, object], settings: Settings
) -> tuple[str, dict[str, str], str]:
    """Only the message part of a submission (type, description, free text), e.g. for the audio
    preview; raises InvalidActionRequest like parse_action_request."""
    errors: dict[str, str] = {}
    incident_type = str(values.get("incident_type") or "")
    checked = _checked_message_fields(
        values, description_values, field_specs(incident_type), settings.web.max_description_chars, errors
    )
    if errors:
        raise InvalidActionRequest(errors)
    return checked


def compose_text(
    incident_type: str,
    description: Mapping,
    free_text: str,
    callback_number: str,
    sender: Sender = NO_SENDER,
    location_label: str = "",
) -> AlertMessage:
    """The alert message (prompts), naming the area of `location_label`; its domain errors
    become field errors."""
    try:
        return compose_alert(
            incident_type,
            dict(description),
            free_text,
            callback_number,
            area=area_of(location_label),
            sender=sender,
        )
    except PromptError as error:
        name = getattr(error, "field", None)
        key = f"d_{name}" if name and name != "free_text" else ("free_text" if name else "description")
        raise InvalidActionRequest({key: error.user_message}) from error


def validate_request(
    values: Mapping, description: Mapping, settings: Settings, *, require_norms: bool = True
) -> ActionRequest:
    """The one validation of a new action: field checks, then the message composer's.

    All problems are reported at once: when a field check fails, the description is still
    put to the composer so its Dutch complaints appear beside the others."""
    incident_type = str(values.get("incident_type") or "")
    try:
        request = parse_action_request(
            values,
            description,
            field_specs(incident_type),
            max_description_chars=settings.web.max_description_chars,
            require_norms=require_norms,
        )
    except InvalidActionRequest as invalid:
        errors = dict(invalid.errors)
        text_errors = any(
            k.startswith("d_") or k in ("free_text", "incident_type", "description") for k in errors
        )
        if not text_errors:
            try:
                compose_text(
                    incident_type, description, str(values.get("free_text") or ""), settings.callback_number
                )
            except InvalidActionRequest as more:
                errors.update(more.errors)
        raise InvalidActionRequest(errors) from invalid
    compose_text(
        request.incident_type, request.description, request.free_text, settings.callback_number
    )  # raises on a description the composer refuses
    return request


def request_from_action(action: Action, norms: Mapping[str, bool] | None = None) -> ActionRequest:
    """The request a saved draft stands for (to recount it, to start it)."""
    return ActionRequest(
        incident_type=IncidentType(action.incident_type).value,
        description=dict(action.description or {}),
        free_text=action.free_text or "",
        lat=action.lat,
        lon=action.lon,
        location_label=action.location_label or "",
        radius_m=action.radius_m,
        channels=list(action.channels or []),
        norms=dict(norms or {}),
    )
