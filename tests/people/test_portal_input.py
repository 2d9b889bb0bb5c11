"""Issue 15, findings 5 and 7 on the participant's pages: odd ids and dates are a 4xx with a
Dutch message, never a 500; the CSRF token is rotated at the participant's log-in."""

from __future__ import annotations

from sqlalchemy import func, select
from test_web_portal import log_in, portal, sign_up, token, verified_participant  # noqa: F401

from db.models import Participant, PhoneNumber


def test_non_numeric_and_huge_ids_on_own_pages(portal, client, db):  # noqa: F811
    verified_participant(portal, client, db)
    log_in(portal, client)
    t = token(client, "/mijn/overzicht")
    with db.session() as s:
        phones = s.scalar(select(func.count()).select_from(PhoneNumber))
    for raw in ("abc", "²", "9223372036854775808", "1" * 5000, "-1", ""):
        for url, field in (
            ("/mijn/telefoon/verwijderen", "phone_id"),
            ("/mijn/adres/verwijderen", "address_id"),
        ):
            response = client.post(url, data={"csrf_token": t, field: raw})
            assert response.status_code < 500, (url, raw)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PhoneNumber)) == phones


def test_pause_date_out_of_range_is_refused(portal, client, db):  # noqa: F811
    verified_participant(portal, client, db)
    log_in(portal, client)
    t = token(client, "/mijn/overzicht")
    for raw in ("9999-12-31", "0001-01-01", "²", "2026-02-30"):
        response = client.post("/mijn/pauze", data={"csrf_token": t, "until": raw}, follow_redirects=True)
        assert response.status_code < 500, raw
        assert "Kies een datum" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(Participant)).paused_until is None


def test_signup_verify_with_odd_phone_ids(portal, client, db):  # noqa: F811
    sign_up(client, landline="", channels=["sms", "email"])
    for raw in ("²", "9223372036854775808", "abc"):
        response = client.post(
            "/aanmelden/bevestigen", data={"csrf_token": token(client), "phone_id": raw, "code": "123456"}
        )
        assert response.status_code in (400, 404), raw


def test_signup_refuses_unicode_house_numbers_and_times(portal, client, db):  # noqa: F811
    for number, start in (("²", ""), ("1" * 5000, ""), ("12", "²:00"), ("12", "08:٣0")):
        response = sign_up(client, home_number=number, home_from=start, home_to="18:00" if start else "")
        assert response.status_code < 500, (number, start)
        assert response.status_code != 302, (number, start)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == 0


def test_participant_login_rotates_the_csrf_token(portal, client, db):  # noqa: F811
    """Issue 15, finding 7: the anonymous session's CSRF token survived the log-in."""
    verified_participant(portal, client, db)
    before = token(client, "/mijn")
    with client.session_transaction() as sess:
        raw_before = sess.get("csrf_token")
    log_in(portal, client)
    token(client, "/mijn/overzicht")
    with client.session_transaction() as sess:
        raw_after = sess.get("csrf_token")
    assert raw_before and raw_after and raw_before != raw_after
    response = client.post("/mijn/pauze", data={"csrf_token": before, "until": "2026-12-24"})
    assert response.status_code == 400
