"""Issue 15, finding 5 and the web parts of 7: odd input is a 4xx with a Dutch message (JSON on
the API), never a 500; radius_m 0 on the API is a 422; the request size is limited."""

from __future__ import annotations

import json

import pytest
from console_population import MARKT, add_participants
from console_testing import csrf_from, login
from sqlalchemy import func, select

from db.models import Action, Operator, Trunk
from web.auth import issue_api_token
from web.validation import (
    DB_INT_MAX,
    InvalidInput,
    load_json,
    parse_date,
    parse_decimal,
    parse_id,
    parse_int,
)

HUGE = "9223372036854775808"  # 2^63: no database column holds it

BODY = {
    "incident_type": "vehicle",
    "description": {"vehicle_kind": "car", "colour": "red", "make": "Volkswagen", "plate": "12-ABC-3"},
    "location": {"lat": MARKT[0], "lon": MARKT[1], "label": "Markt, Delft"},
    "radius_m": 1500,
    "channels": ["voice", "sms"],
    "norms": {"urgent_recent": True, "clear_description": True},
}


@pytest.fixture
def api(client, staff, db):
    add_participants(db, 3)
    with db.transaction() as s:
        token = issue_api_token(s, s.get(Operator, staff.centralist_id))
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, url, json=None, data=None):
        kwargs = {"json": json} if data is None else {"data": data, "content_type": "application/json"}
        return client.open(url, method=method, headers=headers, **kwargs)

    return call


def as_role(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client, csrf_from(client.get("/").get_data(as_text=True))


# --- the parsers ----------------------------------------------------------------------------


def test_parsers_take_ascii_digits_only_and_bounded():
    assert parse_int("42") == 42 and parse_int(" 7 ") == 7
    for raw in ("²", "٣", "1²", "-1", "+1", "1e3", "", None, True, "9" * 5000):
        assert parse_int(raw) is None, raw
    assert parse_id(str(DB_INT_MAX)) == DB_INT_MAX and parse_id(str(DB_INT_MAX + 1)) is None
    assert parse_id("0") is None and parse_id(HUGE) is None
    assert parse_decimal("12,5") == 12.5 and parse_decimal("1e400") is None and parse_decimal("nan") is None
    assert parse_date("2026-11-28").isoformat() == "2026-11-28"
    for raw in ("9999-12-31", "0001-01-01", "2026-02-30", "２０２６-01-01", "2026-1-1"):
        assert parse_date(raw) is None, raw


def test_json_loader_refuses_depth_size_and_long_numbers():
    with pytest.raises(InvalidInput):
        load_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidInput):
        load_json(b'{"n": ' + b"1" * 5000 + b"}")
    with pytest.raises(InvalidInput) as too_big:
        load_json(b'"' + b"x" * 70_000 + b'"')
    assert too_big.value.status == 413
    with pytest.raises(InvalidInput):
        load_json(b'{"x": NaN}')
    assert load_json(b'{"a": "[[[[{{{{"}') == {"a": "[[[[{{{{"}


# --- ids in routes --------------------------------------------------------------------------


def test_route_ids_beyond_the_column_range_are_404(app, staff, api):
    client, token = as_role(app, "admin")
    for url in (f"/actions/{HUGE}", f"/actions/{HUGE}/confirm", f"/actions/{HUGE}/progress.json"):
        assert client.get(url).status_code == 404, url
    assert client.get("/actions/²").status_code == 404
    for url in (f"/actions/{HUGE}/start", f"/sightings/{HUGE}/handle", f"/beheer/gebruikers/{HUGE}"):
        assert client.post(url, data={"csrf_token": token}).status_code == 404, url
    response = api("GET", f"/api/v1/actions/{HUGE}")
    assert response.status_code == 404 and response.get_json()["error"] == "Deze pagina bestaat niet."
    assert api("POST", f"/api/v1/actions/{2**31}/end", {"outcome": "found"}).status_code == 404


# --- numbers --------------------------------------------------------------------------------


def test_unicode_digits_are_refused_with_a_dutch_message(app, staff, db):
    client, token = as_role(app, "admin")
    response = client.post("/actions/1/start", data={"csrf_token": token, "expected_total": "²"})
    assert response.status_code == 400 and "ontvangers" in response.get_data(as_text=True)
    radius = {f"radius_{k}": "²" for k in ("suspect", "missing_person", "missing_child", "vehicle", "other")}
    response = client.post(
        "/beheer/instellingen",
        data={"csrf_token": token, "retention_days": "30", **radius},
        follow_redirects=True,
    )
    assert response.status_code < 500 and "kies 100 tot 20.000 meter" in response.get_data(as_text=True)
    response = client.post(
        "/beheer/instellingen",
        data={"csrf_token": token, "retention_days": "²", **{k: "1500" for k in radius}},
        follow_redirects=True,
    )
    assert response.status_code < 500 and "Bewaartermijn" in response.get_data(as_text=True)
    response = client.post(
        "/beheer/trunks",
        data={
            "csrf_token": token,
            "name": "pbx",
            "backend": "asterisk",
            "max_channels": "10",
            "cps": "5",
            "prefix_caps": "+3115=²",
        },
        follow_redirects=True,
    )
    assert response.status_code < 500 and "Limiet per netnummer" in response.get_data(as_text=True)
    response = client.post(
        "/beheer/trunks",
        data={"csrf_token": token, "name": "pbx", "backend": "asterisk", "max_channels": HUGE, "cps": "5"},
        follow_redirects=True,
    )
    assert response.status_code < 500
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Trunk)) == 0
    response = client.get("/evaluatie/?meldkamer=²")
    assert response.status_code == 400 and "meldkamer" in response.get_data(as_text=True)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["van=9999-12-31&tot=9999-12-31", "van=2026-01-01&tot=9999-12-31", "van=0001-01-01", "tot=²"]
)
def test_dates_out_of_range_are_400_on_page_and_export(app, staff, query):
    client, _ = as_role(app, "supervisor")
    for url in (f"/evaluatie/?{query}", f"/evaluatie/export/acties.csv?{query}"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "jjjj-mm-dd" in response.get_data(as_text=True)


# --- JSON on the API ------------------------------------------------------------------------


def test_api_refuses_deep_json_and_long_numbers_with_json_errors(api, db):
    deep = "[" * 100_000 + "]" * 100_000
    response = api("POST", "/api/v1/actions", data=deep)
    assert response.status_code == 413 and "te groot" in response.get_json()["error"]
    deep_small = '{"a": ' + "[" * 1000 + "]" * 1000 + "}"
    response = api("POST", "/api/v1/actions", data=deep_small)
    assert response.status_code == 400 and "te diep genest" in response.get_json()["error"]
    long_number = json.dumps(BODY)[:-1] + ', "x": ' + "1" * 5000 + "}"
    response = api("POST", "/api/v1/actions", data=long_number)
    assert response.status_code == 422 and response.get_json()["status"] == 422
    house = {**BODY, "location": {"postcode": "2611AB", "house_number": "1" * 5000}}
    response = api("POST", "/api/v1/actions", json=house)
    assert response.status_code == 422 and "huisnummer" in response.get_json()["errors"]["location"]
    house["location"]["house_number"] = "²"
    assert api("POST", "/api/v1/preview", json=house).status_code == 422
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Action)) == 0


def test_api_radius_zero_is_422_not_the_default(api, db):
    """Issue 15, finding 7: `radius_m: 0` was silently replaced with the default."""
    response = api("POST", "/api/v1/actions", json={**BODY, "radius_m": 0})
    assert response.status_code == 422
    assert "straal" in response.get_json()["errors"]["radius_m"]
    without = {k: v for k, v in BODY.items() if k != "radius_m"}
    assert api("POST", "/api/v1/actions", json=without).status_code == 201  # missing: the default
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Action)) == 1


def test_api_start_with_a_huge_expected_total_is_not_a_500(api):
    created = api("POST", "/api/v1/actions", json=BODY).get_json()
    action_id = created["action"]["id"]
    response = api("POST", f"/api/v1/actions/{action_id}/start", data='{"expected_total": ' + "9" * 30 + "}")
    assert response.status_code == 422


# --- request size ---------------------------------------------------------------------------


def test_oversized_form_is_413_before_parsing(app, staff):
    client, token = as_role(app, "centralist")
    response = client.post("/actions/new", data={"csrf_token": token, "free_text": "x" * 2_000_000})
    assert response.status_code == 413 and "te groot" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": "x" * 2_000_000})
    assert response.status_code == 413


def test_console_geocode_refuses_a_5000_digit_house_number(app, staff):
    client, token = as_role(app, "centralist")
    response = client.post(
        "/geocode", data={"csrf_token": token, "postcode": "2611AB", "house_number": "1" * 5000}
    )
    assert response.status_code == 200 and response.get_json()["ok"] is False
    assert "huisnummer" in response.get_json()["error"]
