import re

from console_testing import PASSWORD, csrf_from, login
from sqlalchemy import select

from db.models import AuditEvent, Operator


def audit_events(db) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(e.event, e.actor) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_anonymous_is_redirected_to_login(client, staff):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_page_shows_training_banner_and_security_headers(client, staff):
    response = client.get("/login")
    html = response.get_data(as_text=True)
    assert "TRAININGSMODUS" in html
    assert 'name="csrf_token"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_login_success_rotates_session_and_is_audited(client, staff, db):
    client.get("/login")
    before = client.get_cookie("burgernet_session")
    response = login(client, "centralist")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = client.get_cookie("burgernet_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert before is None or before.value != cookie.value
    page = client.get("/").get_data(as_text=True)
    assert "Centralist" in page and "Meldkamer Haaglanden" in page
    assert ("auth.login", "centralist") in audit_events(db)


def test_wrong_password_refused_counted_and_audited(client, staff, db):
    response = login(client, "centralist", "wrong")
    assert response.status_code == 401
    assert "onjuist wachtwoord" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Operator, staff.centralist_id).failed_logins == 1
    assert ("auth.login_failed", "centralist") in audit_events(db)


def test_unknown_user_gets_the_same_message(client, staff):
    response = login(client, "nobody", "x")
    assert response.status_code == 401
    assert "onbekende gebruikersnaam of onjuist wachtwoord" in response.get_data(as_text=True)


def test_lockout_after_repeated_failures_then_unlock_after_time(client, staff, db, settings, clock):
    for _ in range(settings.web.login_max_failures):
        login(client, "centralist", "wrong")
    response = login(client, "centralist", PASSWORD)
    assert response.status_code == 401
    assert "onbekende gebruikersnaam of onjuist wachtwoord" in response.get_data(as_text=True)
    assert "auth.locked" in [e for e, _ in audit_events(db)]
    clock.advance(settings.web.login_lockout_minutes * 60 + 1)
    assert login(client, "centralist", PASSWORD).status_code == 302


def test_logout_requires_csrf_and_is_audited(logged_in, db):
    client, token = logged_in
    assert client.post("/logout").status_code == 400
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert ("auth.logout", "centralist") in audit_events(db)
    assert client.get("/").status_code == 302


def test_idle_session_expires(logged_in, clock, settings, db):
    client, _ = logged_in
    clock.advance(settings.web.session_idle_minutes * 60 + 5)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "auth.session_expired" in [e for e, _ in audit_events(db)]


def test_activity_keeps_session_alive(logged_in, clock, settings):
    client, _ = logged_in
    for _ in range(3):
        clock.advance(settings.web.session_idle_minutes * 60 - 10)
        assert client.get("/").status_code == 200


def test_deactivated_operator_loses_session(logged_in, db, staff):
    client, _ = logged_in
    with db.transaction() as s:
        s.get(Operator, staff.centralist_id).active = False
    assert client.get("/").status_code == 302


def test_open_redirect_after_login_is_dropped(client, staff):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={
            "username": "centralist",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.headers["Location"] == "/"


def test_login_post_without_csrf_refused(client, staff):
    client.get("/login")
    response = client.post("/login", data={"username": "centralist", "password": PASSWORD})
    assert response.status_code == 400
    assert "beveiligingscode" in response.get_data(as_text=True)


def test_role_navigation(client, staff):
    login(client, "centralist")
    html = client.get("/").get_data(as_text=True)
    assert "Uitloggen" in html
    assert "centralist" in html


def test_api_token_lookup(db, staff, app):
    from web.auth import issue_api_token, operator_for_api_token

    with db.transaction() as s:
        token = issue_api_token(s, s.get(Operator, staff.centralist_id))
    with db.session() as s:
        assert operator_for_api_token(s, token).id == staff.centralist_id
        assert operator_for_api_token(s, token + "x") is None
        assert operator_for_api_token(s, "") is None
        stored = s.get(Operator, staff.centralist_id).api_token_hash
        assert token not in stored


def test_audit_log_is_for_supervisors_only(client, staff):
    login(client, "centralist")
    assert client.get("/audit").status_code == 403
    assert "Logboek" not in client.get("/").get_data(as_text=True)
    other = client.application.test_client()
    login(other, "supervisor")
    html = other.get("/audit").get_data(as_text=True)
    assert "Logboek" in html and "ingelogd" in html


def test_many_failures_from_one_address_refused_for_any_username(client, staff, settings, clock, db):
    settings.web.login_max_failures_per_ip = 6
    for i in range(6):
        login(client, f"guess{i}", "x")
    response = login(client, "centralist", PASSWORD)
    assert response.status_code == 401
    assert "vanaf dit adres" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Operator, staff.centralist_id).failed_logins == 0  # the account is not blamed
    clock.advance(settings.web.login_lockout_minutes * 60 + 1)
    assert login(client, "centralist", PASSWORD).status_code == 302


def test_trusted_proxy_gives_the_client_address(settings, staff, db):
    from app import create_app

    settings.web.trusted_proxies = 1
    proxied = create_app(settings)
    client = proxied.test_client()
    headers = {"X-Forwarded-For": "198.51.100.7"}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    client.post(
        "/login",
        headers=headers,
        data={"username": "centralist", "password": "x", "csrf_token": csrf_from(page)},
    )
    with db.session() as s:
        ips = set(s.scalars(select(AuditEvent.ip).where(AuditEvent.event == "auth.login_failed")))
    assert ips == {"198.51.100.7"}
    proxied.extensions["burgernet.db"].dispose()


def test_session_ends_after_the_maximum_age_despite_activity(logged_in, clock, settings, db):
    client, _ = logged_in
    step = settings.web.session_idle_minutes * 60 - 10
    steps = settings.web.session_max_hours * 3600 // step
    for _ in range(steps):
        clock.advance(step)
        assert client.get("/").status_code == 200
    clock.advance(step)
    assert client.get("/").status_code == 302
    with db.session() as s:
        reasons = [
            e.detail.get("reason")
            for e in s.scalars(select(AuditEvent).where(AuditEvent.event == "auth.session_expired"))
        ]
    assert reasons == ["max_age"]


def test_csrf_token_of_the_anonymous_session_is_void_after_login(client, staff):
    before = csrf_from(client.get("/login").get_data(as_text=True))
    assert login(client, "centralist").status_code == 302
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_scripts_send_the_csrf_token_in_a_header(logged_in):
    client, token = logged_in
    refused = client.post("/logout", headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "beveiligingscode" in refused.get_json()["error"]
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_anonymous_posts_and_json_requests_get_401_not_a_redirect(client, staff):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/actions/preview", data={"csrf_token": token}).status_code == 401
    assert client.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_login_sets_no_remember_me_cookie(client, staff):
    login(client, "centralist")
    assert client.get_cookie("remember_token") is None


def _message(response) -> str:
    match = re.search(r'role="alert">(.*?)<', response.get_data(as_text=True), re.S)
    return match.group(1).strip() if match else response.get_data(as_text=True)


def test_locked_account_answers_like_an_unknown_user(client, staff, db, settings):
    """Issue 15, finding 7: a locked account got a message unknown users never see."""
    for _ in range(settings.web.login_max_failures):
        login(client, "centralist", "wrong")
    locked = login(client, "centralist", PASSWORD)
    unknown = login(client, "nobody-here", PASSWORD)
    assert locked.status_code == unknown.status_code == 401
    assert "geblokkeerd" not in locked.get_data(as_text=True)
    assert _message(locked) == _message(unknown)
    with db.session() as s:
        reasons = [
            e.detail.get("reason")
            for e in s.scalars(select(AuditEvent).where(AuditEvent.event == "auth.login_failed"))
        ]
    assert "locked" in reasons  # the lock-out itself is still audited


def test_copied_cookie_is_refused_after_logout(logged_in, app):
    """Issue 15, finding 7: a copied console cookie kept working after log-out."""
    client, token = logged_in
    copy = app.test_client()
    copy.set_cookie("burgernet_session", client.get_cookie("burgernet_session").value)
    assert copy.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    response = copy.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert copy.get("/api/v1/actions").status_code == 401


def test_deactivation_ends_the_session_at_once(logged_in, app, staff, db):
    client, _ = logged_in
    admin = app.test_client()
    login(admin, "admin")
    token = csrf_from(admin.get("/beheer/gebruikers").get_data(as_text=True))
    response = admin.post(
        f"/beheer/gebruikers/{staff.centralist_id}",
        data={"csrf_token": token, "role": "centralist", "control_room_id": staff.control_room_id},
    )
    assert response.status_code == 302
    with db.session() as s:
        assert not s.get(Operator, staff.centralist_id).active
    assert client.get("/").status_code == 302


def test_new_login_after_logout_works_and_old_cookie_stays_dead(logged_in, app):
    client, token = logged_in
    old = client.get_cookie("burgernet_session").value
    client.post("/logout", data={"csrf_token": token})
    assert login(client, "centralist").status_code == 302
    assert client.get("/").status_code == 200
    copy = app.test_client()
    copy.set_cookie("burgernet_session", old)
    assert copy.get("/").status_code == 302
