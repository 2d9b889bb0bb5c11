"""The console form flattened into the use case's values, and the CSP built from the tile URL."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from web.action_form import form_values
from web.security import content_security_policy, tile_origin


def test_form_values_take_the_chosen_types_fields_and_the_ticked_norms():
    form = MultiDict(
        [
            ("incident_type", "vehicle"),
            ("d__vehicle__plate", "12-ABC-3"),
            ("d__vehicle__colour", " "),
            ("d__suspect__clothing", "jas"),
            ("channels", "voice"),
            ("channels", "sms"),
            ("radius_m", "1500"),
            ("norm_urgent_recent", "on"),
        ]
    )
    values, description = form_values(form)
    assert description == {"plate": "12-ABC-3"}
    assert values["channels"] == ["voice", "sms"] and values["radius_m"] == "1500"
    assert values["norms"] == {"urgent_recent": True, "clear_description": False, "family_consent": False}


def test_csp_allows_only_the_tile_server_for_images():
    assert tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"
    assert tile_origin("") == ""
    csp = content_security_policy("https://tiles.example.nl/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tiles.example.nl" in csp
    assert "script-src 'self';" in csp and "object-src 'none'" in csp
