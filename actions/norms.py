"""The Burgernet norms: an action is only started when they hold.

A centralist confirms them when saving the draft (the console's checklist, the API's `norms`
object, the CLI's flags); the draft keeps them (`Action.norms`, audited with the draft), and
`actions.start.start_action` checks them again before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from db.models import Action, IncidentType

NORMS: dict[str, str] = {
    "urgent_recent": "Het incident is urgent en heeft zich zojuist voorgedaan.",
    "clear_description": "Er is een duidelijk signalement van de persoon of het voertuig.",
    "family_consent": (
        "Vermissing: de familie heeft toestemming gegeven en de politie heeft de urgentie beoordeeld."
    ),
}
# Incident types for which the family's consent is a norm too.
CONSENT_TYPES = {IncidentType.MISSING_PERSON.value, IncidentType.MISSING_CHILD.value}


def norms_required(incident_type: str) -> list[str]:
    names = ["urgent_recent", "clear_description"]
    if incident_type in CONSENT_TYPES:
        names.append("family_consent")
    return names


def checked_norms(given: Mapping[str, object] | None) -> dict[str, bool]:
    """Every norm by name, True only where `given` says so."""
    given = given or {}
    return {name: bool(given.get(name)) for name in NORMS}


def missing_norms(incident_type: str, norms: Mapping[str, object] | None) -> list[str]:
    confirmed = checked_norms(norms)
    return [name for name in norms_required(incident_type) if not confirmed[name]]


def norms_message(missing: list[str]) -> str:
    """The Dutch refusal naming the norms that were not confirmed."""
    return "Een actie mag alleen als aan de Burgernet-normen is voldaan: " + " ".join(
        NORMS[name] for name in missing
    )


def confirmed_norms(action: Action) -> dict[str, bool]:
    """The norms confirmed when the draft was last saved (all False if never confirmed)."""
    return checked_norms(action.norms)
