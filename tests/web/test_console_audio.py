"""The console's audio preview is served only by the short-lived link signed for the control
room of the operator who rendered it (issue 15, finding 2): not by a key computed from a guessed
text, not to an operator of another control room, not after it expired, not to Twilio."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from console_testing import PASSWORD, csrf_from, login
from test_console_flow import SUSPECT, post
from werkzeug.security import generate_password_hash

from db.models import ControlRoom, Operator, Role
from web.audio_links import CONSOLE_AUDIO_TTL_S


@pytest.fixture
def preview(client, staff, db):
    login(client, "centralist")
    token = csrf_from(client.get("/actions/new").get_data(as_text=True))
    result = post(client, "/actions/preview/audio", token, SUSPECT).get_json()
    assert result["ok"], result
    return client, result["url"]


def _key_and_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    key = parts.path.rsplit("/", 1)[1]
    return key, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_the_preview_is_a_signed_link_for_the_own_room(preview, staff):
    client, url = preview
    key, query = _key_and_query(url)
    assert set(query) == {"for", "exp", "sig"} and query["for"] == f"room:{staff.control_room_id}"
    assert client.get(url).status_code == 200


def test_a_key_without_its_signature_is_refused(preview):
    client, url = preview
    key, query = _key_and_query(url)
    assert client.get(f"/audio/prompt/{key}").status_code == 404
    assert client.get(f"/audio/prompt/{key}?for={query['for']}&exp={query['exp']}&sig=00").status_code == 404
    assert client.get("/audio/prompt/" + "0" * 64).status_code == 404


def test_an_operator_of_another_control_room_gets_nothing(preview, app, db):
    _, url = preview
    with db.transaction() as s:
        room = ControlRoom(name="Meldkamer Oost", region="Oost", transfer_target="+31263456789")
        s.add(room)
        s.flush()
        s.add(
            Operator(
                username="oost",
                display_name="Oost",
                password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
                role=Role.CENTRALIST,
                control_room_id=room.id,
                transfer_target="+31261234567",
            )
        )
        other_room = room.id
    other = app.test_client()
    assert login(other, "oost").status_code == 302
    assert other.get(url).status_code == 404
    key, query = _key_and_query(url)
    rebound = f"/audio/prompt/{key}?for=room:{other_room}&exp={query['exp']}&sig={query['sig']}"
    assert other.get(rebound).status_code == 404


def test_an_expired_preview_link_is_refused(preview, clock):
    client, url = preview
    clock.advance(CONSOLE_AUDIO_TTL_S + 1)
    login(client, "centralist")  # the console session may have ended meanwhile too
    response = client.get(url)
    assert response.status_code == 404


def test_a_preview_link_is_no_twilio_link(preview, app):
    client, url = preview
    key, query = _key_and_query(url)
    app.extensions["burgernet.settings"].phone_backend = "twilio"
    twilio = f"/twilio/audio/{key}.wav?for={query['for']}&exp={query['exp']}&sig={query['sig']}"
    assert app.test_client().get(twilio).status_code == 404


def test_the_preview_speaks_the_control_rooms_call_back_number(client, staff, db, monkeypatch):
    """As the real alert does (actions.wave): the room's number, not the global one."""
    import web.console.form as form

    with db.transaction() as s:
        s.get(ControlRoom, staff.control_room_id).callback_number = "0800-1234567"
    spoken: list[str] = []
    real_render = form.render
    monkeypatch.setattr(
        form, "render", lambda text, settings: spoken.append(text) or real_render(text, settings)
    )
    login(client, "centralist")
    token = csrf_from(client.get("/actions/new").get_data(as_text=True))
    assert post(client, "/actions/preview/audio", token, SUSPECT).get_json()["ok"]
    assert "één twee drie vier vijf zes zeven" in spoken[0], spoken
    assert "nul nul één één" not in spoken[0], "not the global 0800-0011"
