"""The console's new-action form, flattened into the values actions.request validates.

The form names its description fields `d__<incident type>__<field>` (one fieldset per type)
and its norms `norm_<name>` checkboxes; everything else is one field per value.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from actions.norms import NORMS


def form_values(form: MultiDict) -> tuple[dict, dict]:
    """(values, description) for actions.request.validate_request."""
    incident_type = form.get("incident_type", "")
    prefix = f"d__{incident_type}__"
    description = {
        key[len(prefix) :]: value
        for key, value in form.items()
        if key.startswith(prefix) and value.strip() != ""
    }
    values = {
        "incident_type": incident_type,
        "free_text": form.get("free_text", ""),
        "lat": form.get("lat", ""),
        "lon": form.get("lon", ""),
        "location_label": form.get("location_label", ""),
        "radius_m": form.get("radius_m", ""),
        "channels": form.getlist("channels"),
        "norms": {name: form.get(f"norm_{name}") == "on" for name in NORMS},
    }
    return values, description
