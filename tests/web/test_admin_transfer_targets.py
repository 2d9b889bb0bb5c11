"""Transfer targets in the admin pages: typed and checked on save, so free text (a dial string
with options, another dialplan context) never reaches the PBX's Dial()."""

from __future__ import annotations

import pytest
from console_testing import csrf_from, login
from sqlalchemy import select

from callback_line.transfer_targets import (
    InvalidTransferTarget,
    TargetKind,
    check_usable,
    parse_transfer_target,
)
from db.models import AuditEvent, ControlRoom, Operator

HOSTILE = "Local/08000011@burgernet-internal,2,b(burgernet-fallback^s^1)"
ENDPOINTS = ("burgernet-centralist",)


def as_admin(app):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client, csrf_from(client.get("/").get_data(as_text=True))


def save_room(client, token, room_id: int, target: str) -> str:
    response = client.post(
        f"/beheer/meldkamers/{room_id}",
        data={"csrf_token": token, "name": "Meldkamer Haaglanden", "transfer_target": target},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def operator_form(token, staff) -> dict:
    return {
        "csrf_token": token,
        "role": "centralist",
        "active": "1",
        "control_room_id": str(staff.control_room_id),
    }


def room_target(db, room_id: int) -> str:
    with db.session() as s:
        return s.get(ControlRoom, room_id).transfer_target


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("PJSIP/burgernet-centralist", TargetKind.ENDPOINT, "PJSIP/burgernet-centralist"),
        ("sip:meldkamer@sip.example.nl:5060", TargetKind.SIP_URI, "sip:meldkamer@sip.example.nl:5060"),
        ("070 345 6789", TargetKind.NUMBER, "+31703456789"),
        ("0031 6 1234 5678", TargetKind.NUMBER, "+31612345678"),
    ],
)
def test_targets_are_typed_and_canonical(text, kind, value):
    target = parse_transfer_target(text, endpoints=ENDPOINTS)
    assert (target.kind, target.value) == (kind, value)


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE,
        "PJSIP/centralist&PJSIP/other",
        "PJSIP/pbx-provider",  # an endpoint of the PBX, not on the allow-list
        "Local/0031900123456@from-internal",
        "sip:x@evil.example;transport=tcp",
        "0900 1234567",  # premium rate
        "+44 20 7946 0000",  # not Dutch
        "${SHELL(id)}",
        "",
    ],
)
def test_hostile_or_foreign_targets_are_refused(text):
    with pytest.raises(InvalidTransferTarget) as refused:
        parse_transfer_target(text, endpoints=ENDPOINTS)
    assert refused.value.dutch


def test_each_backend_dials_only_what_it_can():
    endpoint = parse_transfer_target("PJSIP/burgernet-centralist", endpoints=ENDPOINTS)
    uri = parse_transfer_target("sip:meldkamer@sip.example.nl", endpoints=ENDPOINTS)
    number = parse_transfer_target("+31703456789", endpoints=ENDPOINTS)
    assert check_usable(endpoint, "asterisk") and check_usable(number, "asterisk")
    assert check_usable(uri, "twilio") and check_usable(number, "twilio")
    with pytest.raises(InvalidTransferTarget):
        check_usable(uri, "asterisk")
    with pytest.raises(InvalidTransferTarget):
        check_usable(endpoint, "twilio")


def test_admin_pages_refuse_a_hostile_target_and_keep_the_old_one(app, staff, db, settings):
    settings.phone_backend = "asterisk"
    client, token = as_admin(app)

    page = save_room(client, token, staff.control_room_id, HOSTILE)
    assert "Doorverbinden:" in page and room_target(db, staff.control_room_id) == "+31703456789"
    page = save_room(client, token, staff.control_room_id, "sip:meldkamer@sip.example.nl")
    assert "alleen naar" in page and room_target(db, staff.control_room_id) == "+31703456789"

    save_room(client, token, staff.control_room_id, "PJSIP/burgernet-centralist")
    assert room_target(db, staff.control_room_id) == "PJSIP/burgernet-centralist"
    save_room(client, token, staff.control_room_id, "070 345 6700")
    assert room_target(db, staff.control_room_id) == "+31703456700"

    response = client.post(
        f"/beheer/gebruikers/{staff.centralist_id}",
        data={**operator_form(token, staff), "transfer_target": HOSTILE},
        follow_redirects=True,
    )
    assert "Doorverbinden:" in response.get_data(as_text=True)
    client.post(
        f"/beheer/gebruikers/{staff.centralist_id}",
        data={**operator_form(token, staff), "transfer_target": "06 1234 5678"},
    )
    with db.session() as s:
        assert s.get(Operator, staff.centralist_id).transfer_target == "+31612345678"
        changes = s.scalars(select(AuditEvent).where(AuditEvent.event == "admin.operator_changed")).all()
        assert [c.detail.get("transfer_target") for c in changes] == ["+31612345678"]


def test_a_room_gets_its_call_queue_and_call_back_number_checked_like_its_target(app, staff, db):
    client, token = as_admin(app)
    room_url = f"/beheer/meldkamers/{staff.control_room_id}"
    form = {"csrf_token": token, "name": "Meldkamer Haaglanden", "transfer_target": "+31703456789"}

    def room() -> ControlRoom:
        with db.session() as s:
            return s.get(ControlRoom, staff.control_room_id)

    saved = client.post(
        room_url, data={**form, "callback_number": "0800-0011", "callback_queue": "bn-haaglanden"}
    )
    assert saved.status_code == 302
    assert (room().callback_queue, room().callback_number) == ("bn-haaglanden", "0800-0011")
    # A queue name that would carry Queue() options, and a number that is no number: refused.
    for extra, message in (
        ({"callback_queue": "bn,1,,,b(burgernet-fallback^s^1)"}, "Wachtrij terugbellijn"),
        ({"callback_number": "bel ons gerust"}, "Terugbelnummer"),
    ):
        page = client.post(
            room_url, data={**form, "callback_number": "0800-0011", **extra}, follow_redirects=True
        )
        assert message in page.get_data(as_text=True)
        assert (room().callback_queue, room().callback_number) == ("bn-haaglanden", "0800-0011")
    # Empty: callers are put through directly again.
    client.post(room_url, data={**form, "callback_number": "", "callback_queue": ""})
    assert (room().callback_queue, room().callback_number) == (None, None)


def test_a_room_with_a_queue_can_ring_the_actions_own_centralist_first(app, staff, db):
    client, token = as_admin(app)
    room_url = f"/beheer/meldkamers/{staff.control_room_id}"
    form = {"csrf_token": token, "name": "Meldkamer Haaglanden", "transfer_target": "+31703456789"}

    def own_first() -> bool:
        with db.session() as s:
            return s.get(ControlRoom, staff.control_room_id).callback_own_centralist_first

    assert own_first() is False
    page = client.get("/beheer/meldkamers").get_data(as_text=True)
    assert "Bellers eerst naar de eigen centralist van de actie" in page
    client.post(
        room_url, data={**form, "callback_queue": "bn-haaglanden", "callback_own_centralist_first": "on"}
    )
    assert own_first() is True
    assert 'name="callback_own_centralist_first" checked' in client.get("/beheer/meldkamers").get_data(
        as_text=True
    )
    # Without a queue there is nothing to fall back to: the setting goes with it.
    client.post(room_url, data={**form, "callback_queue": "", "callback_own_centralist_first": "on"})
    assert own_first() is False
