"""Fuzz suite (issue 15): every form and JSON API endpoint with generated input.

Each test logs in with the role the endpoint needs (console, admin, evaluation: an operator
session and its CSRF token; the portal: a participant session; the API: a bearer token) and
sends hypothesis-generated values: ids (huge, negative, Unicode digits), numbers, dates (also
0001-01-01 and 9999-12-31), free text with control characters and markup, and nested JSON.
The property: no 5xx, and nothing half-written: a refused request (4xx) leaves the number of
rows in every table as it was (audit events and log-in counters excepted).

Profiles (HYPOTHESIS_PROFILE): `ci` (default) runs 30 examples per endpoint; `nightly` runs
1,000 (see docs/fuzzing.md).
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from console_population import MARKT, add_participants
from console_testing import csrf_from, login
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.models import Action, ActionStatus, Base, Operator, Participant, Sighting
from web.auth import issue_api_token

# Rows a refused request may still add: the audit trail records refusals on purpose.
MAY_CHANGE_ON_REFUSAL = {"audit_event"}

ODD = [
    "",
    " ",
    "0",
    "-1",
    "²",
    "٣",
    "１２",
    "9223372036854775808",
    "2147483648",
    "1" * 5000,
    "NaN",
    "inf",
    "1e999",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "24:00",
    "²:00",
    "+3115=²",
    "\x00",
    "<script>alert(1)</script>",
    '=HYPERLINK("x")',
    "../../etc/passwd",
]

ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    st.sampled_from(ODD),
)
dates = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.sampled_from(ODD),
)
texts = st.one_of(st.text(max_size=60), st.sampled_from(ODD))
values = st.one_of(ids, dates, texts)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(ODD),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Raw bodies: deep nesting, long numbers, broken JSON.
raw_bodies = st.one_of(
    st.integers(min_value=1, max_value=200_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=6000).map(lambda n: '{"radius_m": ' + "9" * n + "}"),
    st.text(max_size=100),
    st.sampled_from(['{"a":', "[1,", "NaN", '{"radius_m": Infinity}', "\ufeff{}", '"\\ud800"']),
)

ACTION_FIELDS = [
    "incident_type",
    "free_text",
    "lat",
    "lon",
    "location_label",
    "radius_m",
    "channels",
    "postcode",
    "house_number",
    "addition",
    "d_plate",
    "d_colour",
    "d_make",
    "d_vehicle_kind",
    "norm_urgent_recent",
]

API_BODY = {
    "incident_type": "vehicle",
    "description": {"vehicle_kind": "car", "colour": "red", "make": "Volkswagen", "plate": "12-ABC-3"},
    "location": {"lat": MARKT[0], "lon": MARKT[1], "label": "Markt, Delft"},
    "radius_m": 1500,
    "channels": ["voice", "sms"],
    "norms": {"urgent_recent": True, "clear_description": True},
}


def row_counts(db) -> dict[str, int]:
    with db.session() as s:
        return {
            name: s.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }


def check(response, db, before: dict[str, int], what) -> None:
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        after = row_counts(db)
        changed = {t for t in after if after[t] != before[t] and t not in MAY_CHANGE_ON_REFUSAL}
        assert not changed, (what, response.status_code, changed)


@pytest.fixture
def world(app, staff, db):
    """A room with participants, a draft, a running action with a sighting, and a logged-in
    client per role."""
    add_participants(db, 4)
    with db.transaction() as s:
        token = issue_api_token(s, s.get(Operator, staff.supervisor_id))
    api_headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    draft = client.post("/api/v1/actions", json=API_BODY, headers=api_headers).get_json()["action"]["id"]
    running = client.post("/api/v1/actions", json=API_BODY, headers=api_headers).get_json()
    running_id, total = running["action"]["id"], running["preview"]["total"]
    started = client.post(
        f"/api/v1/actions/{running_id}/start", json={"expected_total": total}, headers=api_headers
    )
    assert started.status_code == 200, started.get_json()
    with db.transaction() as s:
        s.add(
            Sighting(
                action_id=running_id,
                caller_number="+31612345678",
                received_at=s.get(Action, running_id).started_at,
            )
        )
    clients = {}
    for role in ("centralist", "supervisor", "admin"):
        c = app.test_client()
        assert login(c, role).status_code == 302
        clients[role] = (c, csrf_from(c.get("/").get_data(as_text=True)))
    with db.session() as s:
        participant_id = s.scalar(select(Participant.id).order_by(Participant.id))
        sighting_id = s.scalar(select(Sighting.id))
        assert s.get(Action, running_id).status == ActionStatus.RUNNING
    portal = app.test_client()
    with portal.session_transaction() as sess:
        sess["participant_id"] = participant_id
        sess["participant_seen"] = "2100-01-01T00:00:00+00:00"
    portal_token = csrf_from(portal.get("/mijn/overzicht").get_data(as_text=True))
    return {
        "db": db,
        "clients": clients,
        "portal": (portal, portal_token),
        "anonymous": app.test_client(),
        "api": (client, api_headers),
        "draft": draft,
        "running": running_id,
        "sighting": sighting_id,
        "staff": staff,
    }


def form(fields: list[str]):
    return st.fixed_dictionaries({}, optional={name: values for name in fields})


# (role, method, path with {id} for a generated id or {draft}/{running}/{sighting}, fields)
FORMS = [
    ("centralist", "POST", "/actions/new", ACTION_FIELDS),
    ("centralist", "POST", "/actions/preview", ACTION_FIELDS),
    ("centralist", "POST", "/geocode", ["postcode", "house_number", "addition"]),
    ("centralist", "POST", "/actions/{draft}/edit", ACTION_FIELDS),
    ("centralist", "POST", "/actions/{id}/edit", ACTION_FIELDS),
    ("centralist", "POST", "/actions/{draft}/start", ["expected_total"]),
    ("centralist", "POST", "/actions/{id}/start", ["expected_total"]),
    ("centralist", "POST", "/actions/{running}/outcome-preview", ["outcome", "note"]),
    ("centralist", "POST", "/actions/{id}/end", ["outcome", "note"]),
    ("centralist", "POST", "/sightings/{sighting}/handle", ["note", "handled"]),
    ("centralist", "POST", "/sightings/{id}/handle", ["note"]),
    ("centralist", "GET", "/actions/{id}", []),
    ("centralist", "GET", "/actions/{id}/confirm", []),
    ("centralist", "GET", "/actions/{id}/progress.json", []),
    ("supervisor", "GET", "/audit", ["page", "actie", "van", "tot"]),
    ("supervisor", "GET", "/evaluatie/", ["van", "tot", "meldkamer", "gemeente", "training"]),
    ("supervisor", "GET", "/evaluatie/export/acties.csv", ["van", "tot", "meldkamer", "gemeente"]),
    (
        "admin",
        "POST",
        "/beheer/gebruikers",
        ["username", "display_name", "password", "role", "control_room_id"],
    ),
    ("admin", "POST", "/beheer/gebruikers/{id}", ["role", "active", "control_room_id", "transfer_target"]),
    (
        "admin",
        "POST",
        "/beheer/meldkamers",
        ["name", "region", "transfer_target", "quiet_start", "quiet_end"],
    ),
    ("admin", "POST", "/beheer/meldkamers/{id}", ["name", "region", "quiet_start", "quiet_end"]),
    (
        "admin",
        "POST",
        "/beheer/trunks",
        ["name", "backend", "max_channels", "cps", "prefix_caps", "control_room_id"],
    ),
    ("admin", "POST", "/beheer/trunks/{id}", ["name", "backend", "max_channels", "cps", "prefix_caps"]),
    (
        "admin",
        "POST",
        "/beheer/instellingen",
        ["retention_days", "quiet_start", "quiet_end", "radius_suspect", "radius_vehicle", "radius_other"],
    ),
    ("admin", "GET", "/beheer/deelnemers", ["q", "toon"]),
    ("portal", "POST", "/mijn/telefoon", ["number", "phone", "kind"]),
    ("portal", "POST", "/mijn/telefoon/verwijderen", ["phone_id"]),
    ("portal", "POST", "/mijn/telefoon/bevestigen", ["phone_id", "code"]),
    ("portal", "POST", "/mijn/telefoon/code", ["phone_id", "method"]),
    (
        "portal",
        "POST",
        "/mijn/adres",
        ["kind", "new_postcode", "new_number", "new_addition", "new_from", "new_to"],
    ),
    ("portal", "POST", "/mijn/adres/verwijderen", ["address_id"]),
    ("portal", "POST", "/mijn/pauze", ["until"]),
    ("portal", "POST", "/mijn/gegevens", ["name", "email", "channels", "birth_year"]),
    (
        "anonymous",
        "POST",
        "/aanmelden",
        ["name", "birth_year", "home_postcode", "home_number", "home_from", "home_to", "mobile", "email"],
    ),
    ("anonymous", "POST", "/aanmelden/bevestigen", ["phone_id", "code"]),
    ("anonymous", "POST", "/mijn", ["identifier"]),
    ("anonymous", "POST", "/mijn/code", ["code"]),
]


@pytest.mark.parametrize(
    ("role", "method", "path", "fields"), FORMS, ids=[f"{m} {p}" for _, m, p, _ in FORMS]
)
def test_forms_never_fail_with_a_server_error(world, role, method, path, fields):
    if role == "portal":
        client, token = world["portal"]
    elif role == "anonymous":
        client = world["anonymous"]
        token = csrf_from(client.get("/mijn").get_data(as_text=True))
    else:
        client, token = world["clients"][role]

    @given(data=form(fields), route_id=ids)
    def run(data, route_id):
        url = path.format(
            id=route_id, draft=world["draft"], running=world["running"], sighting=world["sighting"]
        )
        before = row_counts(world["db"])
        if method == "GET":
            response = client.get(url, query_string=data)
        else:
            response = client.post(url, data={**data, "csrf_token": token})
        check(response, world["db"], before, (url, data))

    run()


API = [
    ("POST", "/api/v1/preview"),
    ("POST", "/api/v1/actions"),
    ("POST", "/api/v1/actions/{running}/end"),
    ("POST", "/api/v1/actions/{draft}/start"),
    ("POST", "/api/v1/actions/{id}/start"),
    ("POST", "/api/v1/actions/{id}/end"),
    ("POST", "/api/v1/actions/{running}/update"),
    ("POST", "/api/v1/actions/{running}/area/preview"),
    ("POST", "/api/v1/actions/{running}/area"),
    ("POST", "/api/v1/actions/{id}/area"),
]


def _api_url(world, path, route_id) -> str:
    return path.format(id=route_id, draft=world["draft"], running=world["running"])


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
def test_api_with_generated_json(world, method, path):
    client, headers = world["api"]

    # Realistic bodies with any field replaced, added or nested oddly.
    bodies = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                **{key: json_values for key in API_BODY},
                "expected_total": json_values,
                "expected_added": json_values,
                "outcome": json_values,
                "note": json_values,
            },
        ).map(lambda over: {**API_BODY, **over}),
        st.fixed_dictionaries(
            {"location": st.fixed_dictionaries({"postcode": values, "house_number": values})}
        ).map(lambda loc: {**API_BODY, **loc}),
        json_values,
    )

    @given(body=bodies, route_id=ids)
    def run(body, route_id):
        before = row_counts(world["db"])
        url = _api_url(world, path, route_id)
        response = client.open(
            url, method=method, data=json.dumps(body), content_type="application/json", headers=headers
        )
        assert response.is_json, (url, response.status_code)
        check(response, world["db"], before, (url, body))

    run()


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
def test_api_with_raw_bodies(world, method, path):
    client, headers = world["api"]

    @given(body=raw_bodies)
    def run(body):
        before = row_counts(world["db"])
        url = _api_url(world, path, "1")
        response = client.open(
            url, method=method, data=body, content_type="application/json", headers=headers
        )
        assert response.is_json and 400 <= response.status_code < 500 or response.status_code < 300, body[:80]
        check(response, world["db"], before, (url, body[:80]))

    run()


def test_api_reads_with_generated_ids_and_filters(world):
    client, headers = world["api"]

    @given(route_id=ids, status=values)
    def run(route_id, status):
        for url, query in ((f"/api/v1/actions/{route_id}", {}), ("/api/v1/actions", {"status": status})):
            response = client.get(url, query_string=query, headers=headers)
            assert response.status_code < 500 and response.is_json, (url, query)

    run()
