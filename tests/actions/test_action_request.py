"""The pure validation of a new action, shared by the console, the API and the CLI."""

from __future__ import annotations

import pytest

from actions.errors import InvalidActionRequest
from actions.request import parse_action_request
from actions.supervisor import needs_supervisor
from prompts.fields import description_fields

VALID = {
    "incident_type": "vehicle",
    "lat": "52,0116",
    "lon": "4.3571",
    "radius_m": "3000",
    "channels": ["sms", "voice"],
    "norms": {"urgent_recent": True, "clear_description": True},
}


def parse(values, description=None, **kw):
    kind = values.get("incident_type")
    specs = (
        description_fields(kind)
        if kind in ("suspect", "missing_person", "missing_child", "vehicle", "other")
        else []
    )
    return parse_action_request(
        values, description or {"plate": "12-ABC-3"}, specs, max_description_chars=500, **kw
    )


def test_valid_request_is_normalised():
    request = parse(VALID)
    assert (request.lat, request.lon, request.radius_m) == (52.0116, 4.3571, 3000)
    assert request.channels == ["voice", "sms"]  # canonical order
    assert request.description == {"plate": "12-ABC-3"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"incident_type": "burglary"}, "incident_type"),
        ({"lat": ""}, "location"),
        ({"lat": "nan"}, "location"),
        ({"lon": "12.5"}, "location"),
        ({"radius_m": "99"}, "radius_m"),
        ({"radius_m": "25001"}, "radius_m"),
        ({"channels": []}, "channels"),
        ({"channels": ["voice", "fax"]}, "channels"),
        ({"norms": {"urgent_recent": True}}, "norms"),
    ],
)
def test_each_rule_has_a_dutch_message(change, field):
    with pytest.raises(InvalidActionRequest) as refused:
        parse({**VALID, **change})
    assert field in refused.value.errors
    assert refused.value.user_message


def test_missing_person_needs_family_consent_but_preview_does_not_need_norms():
    values = {**VALID, "incident_type": "missing_person"}
    with pytest.raises(InvalidActionRequest) as refused:
        parse(values, {"age": "80"})
    assert "familie" in refused.value.errors["norms"]
    preview = parse({**values, "norms": {}}, {"age": "80"}, require_norms=False)
    assert preview.incident_type == "missing_person"


@pytest.mark.parametrize("text", ["<b>jas</b>", "{{7*7}}", "a\x07b", "javascript:alert(1)", "x" * 31])
def test_markup_control_characters_and_length_refused(text):
    with pytest.raises(InvalidActionRequest) as refused:
        parse(VALID, {"make": text})
    assert "d_make" in refused.value.errors


def test_unknown_description_field_refused():
    with pytest.raises(InvalidActionRequest) as refused:
        parse(VALID, {"plate": "12-ABC-3", "shoe_size": "44"})
    assert "d_shoe_size" in refused.value.errors


def test_empty_description_refused():
    with pytest.raises(InvalidActionRequest) as refused:
        parse(VALID, {"plate": "   "})
    assert "description" in refused.value.errors


def test_supervisor_rule():
    assert not needs_supervisor(5000, 5000, max_radius_m=5000, max_recipients=5000)
    assert needs_supervisor(5001, 10, max_radius_m=5000, max_recipients=5000)
    assert needs_supervisor(100, 5001, max_radius_m=5000, max_recipients=5000)
