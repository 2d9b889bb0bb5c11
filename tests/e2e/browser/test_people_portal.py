"""The participants' portal in a real Chromium: sign-up with verification (SMS code, a call that
speaks the code, email link), Mijn Burgernet (change, pause, opt out, export, delete), admin
and evaluation pages guarded by role, the recruitment page. Training mode: the codes are read
from the page's training outbox, which shows what the simulated senders were given."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from browser_support import login, screenshot
from sqlalchemy import select, update

from db.models import Address, AuditEvent, Municipality, Participant, ParticipantStatus, PhoneNumber, Trunk

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MOBILE, LANDLINE, EMAIL = "+31687654321", "+31157654321", "lisa@example.nl"


def script_errors(page) -> list[str]:
    """Script and CSP errors; failed loads (the favicon, a deliberate 400) are not counted."""
    return [e for e in page.console_errors if not e.startswith("Failed to load resource")]


def code_in_outbox(page, target: str) -> str:
    items = page.locator(".training-outbox li", has_text=target)
    text = items.nth(items.count() - 1).inner_text()
    return re.search(r"(\d(?: ?\d){5})", text.split(":", 1)[1]).group(1).replace(" ", "")


def sign_up(page, live_app) -> None:
    page.goto(live_app.url("/aanmelden"))
    page.fill('input[name="name"]', "Lisa de Groot")
    page.fill('input[name="birth_year"]', "1988")
    page.fill('input[name="home_postcode"]', "2611 GN")
    page.fill('input[name="home_number"]', "1")
    page.click("text=Alleen op bepaalde dagen en tijden")
    page.fill('input[name="mobile"]', "06 8765 4321")
    page.fill('input[name="landline"]', "015 765 4321")
    page.fill('input[name="email"]', EMAIL)
    for channel in ("voice", "sms", "email"):
        page.check(f'input[name="channels"][value="{channel}"]')
    page.check('input[name="consent"]')
    page.click('button:has-text("Aanmelden")')
    page.wait_for_url(live_app.url("/aanmelden/bevestigen"))


def verify_all(page, live_app) -> None:
    for number in (MOBILE, LANDLINE):
        card = page.locator(f'.phone-card[data-number="{number}"]')
        card.locator('input[name="code"]').fill(code_in_outbox(page, number))
        card.locator('button:has-text("Bevestigen")').click()
        page.wait_for_load_state()
    link = page.locator(".training-outbox li", has_text=EMAIL).last.inner_text().split("Link: ")[1].strip()
    page.goto(live_app.url(link.split("127.0.0.1:5000", 1)[1]))
    assert "Uw e-mailadres is bevestigd" in page.inner_text("h1")
    page.goto(live_app.url("/aanmelden/bevestigen"))


def test_sign_up_with_verification_by_sms_call_and_email(page, live_app):
    sign_up(page, live_app)
    outbox = page.inner_text(".training-outbox")
    assert "sms naar " + MOBILE in outbox and "voice naar " + LANDLINE in outbox
    assert "Dit is Burgernet. Uw verificatiecode is" in outbox  # the text the call speaks
    with live_app.db.session() as s:
        assert not any(
            p.verified for p in s.scalars(select(PhoneNumber).where(PhoneNumber.e164.in_([MOBILE, LANDLINE])))
        )
    # a wrong code first
    card = page.locator(f'.phone-card[data-number="{MOBILE}"]')
    right = code_in_outbox(page, MOBILE)
    card.locator('input[name="code"]').fill("000000" if right != "000000" else "111111")
    card.locator('button:has-text("Bevestigen")').click()
    assert "klopt niet" in page.inner_text("main")
    verify_all(page, live_app)
    assert "Klaar!" in page.inner_text("#all-verified")
    screenshot(page, "people-01-signup-verified")
    with live_app.db.session() as s:
        p = s.scalar(select(Participant).where(Participant.name == "Lisa de Groot"))
        assert p.email_verified and all(x.verified for x in p.phones)
        assert (p.addresses[0].municipality, p.addresses[0].street) == ("Delft", "Markt")
        assert p.channels == ["voice", "sms", "email"]
    assert script_errors(page) == []


def test_self_service_change_pause_opt_out_export_delete(page, live_app, tmp_path):
    sign_up(page, live_app)
    verify_all(page, live_app)
    page.goto(live_app.url("/mijn"))
    page.fill('input[name="identifier"]', "06-87654321")
    page.click('button:has-text("Stuur mij een code")')
    page.wait_for_url(live_app.url("/mijn/code"))
    page.fill('input[name="code"]', code_in_outbox(page, MOBILE))
    page.click('button:has-text("Inloggen")')
    page.wait_for_url(live_app.url("/mijn/overzicht"))
    assert "Lisa de Groot" in page.input_value('#details-form input[name="name"]')

    page.fill('#details-form input[name="name"]', "Lisa de Groot-Visser")
    page.uncheck('#details-form input[name="channels"][value="voice"]')
    page.click('#details-form button:has-text("Opslaan")')
    assert "opgeslagen" in page.inner_text(".flashes")

    until = date.today() + timedelta(days=14)
    page.fill('input[name="until"]', until.isoformat())
    page.click('button:has-text("Pauzeren")')
    assert "gepauzeerd" in page.inner_text("#status")
    with live_app.db.session() as s:
        p = s.scalar(select(Participant).where(Participant.name == "Lisa de Groot-Visser"))
        assert p.status is ParticipantStatus.PAUSED and p.channels == ["sms", "email"]
    page.click('button:has-text("Weer oproepen ontvangen")')
    assert "actief" in page.inner_text("#status")
    page.click('button:has-text("Afmelden: geen oproepen meer")')
    assert "afgemeld" in page.inner_text("#status")

    with page.expect_download() as download:
        page.click("#export-link")
    path = tmp_path / "export.json"
    download.value.save_as(path)
    data = json.loads(path.read_text())
    assert data["deelnemer"]["naam"] == "Lisa de Groot-Visser"
    assert {x["nummer"] for x in data["telefoonnummers"]} == {MOBILE, LANDLINE}
    screenshot(page, "people-02-self-service")

    page.click('button:has-text("Account verwijderen")')  # not confirmed: refused
    assert "Vink aan" in page.inner_text(".flashes")
    page.check('input[name="confirm"]')
    page.click('button:has-text("Account verwijderen")')
    assert "Uw account is verwijderd" in page.inner_text("h1")
    with live_app.db.session() as s:
        assert s.scalar(select(Participant).where(Participant.name.like("Lisa%"))) is None
        assert s.scalar(select(PhoneNumber).where(PhoneNumber.e164.in_([MOBILE, LANDLINE]))) is None
    page.goto(live_app.url("/mijn/overzicht"))
    assert page.url == live_app.url("/mijn")
    assert script_errors(page) == []


def test_admin_pages_are_guarded_by_role(page, live_app):
    login(page, live_app, "centralist")
    assert "Beheer" not in page.inner_text(".mainnav")
    assert page.goto(live_app.url("/beheer/")).status == 403
    assert page.goto(live_app.url("/evaluatie/")).status == 403
    page.goto(live_app.url("/"))
    page.click("text=Uitloggen")
    login(page, live_app, "supervisor")
    assert page.goto(live_app.url("/beheer/trunks")).status == 403
    assert page.goto(live_app.url("/evaluatie/")).status == 200
    page.click("text=Uitloggen")
    login(page, live_app, "admin")
    page.click(".mainnav >> text=Beheer")
    page.click("text=Trunks")
    form = page.locator("section", has_text="Nieuwe trunk")
    form.locator('input[name="name"]').fill("pbx-delft")
    form.locator('select[name="backend"]').select_option("asterisk")
    form.locator('input[name="max_channels"]').fill("48")
    form.locator('input[name="cps"]').fill("8")
    form.locator('input[name="prefix_caps"]').fill("+3115=24")
    form.locator('button:has-text("Toevoegen")').click()
    assert "is opgeslagen" in page.inner_text(".flashes")
    with live_app.db.session() as s:
        trunk = s.scalar(select(Trunk).where(Trunk.name == "pbx-delft"))
        assert (trunk.max_channels, trunk.cps, trunk.prefix_caps) == (48, 8.0, {"+3115": 24})
    page.goto(live_app.url("/beheer/deelnemers?q=Deelnemer 00"))
    phones = page.inner_text("#results")
    assert "+316****0000" in phones and "+31612340000" not in phones
    page.check('input[name="toon"]')
    page.click('button:has-text("Zoeken")')
    assert "+31612340000" in page.inner_text("#results")
    with live_app.db.session() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.event == "admin.phone_numbers_revealed"))
    screenshot(page, "people-03-admin-search")
    assert script_errors(page) == []


def test_evaluation_charts_and_recruitment_page(page, live_app):
    with live_app.db.transaction() as s:
        s.add(Municipality(name="Delft", population=106000))
        s.execute(update(Address).values(municipality="Delft"))  # the seed leaves it empty
    live_app.settings.portal.public_base_url = live_app.base_url  # the link printed on the page
    login(page, live_app, "supervisor")
    page.click(".mainnav >> text=Evaluatie")
    for chart in ("chart-type-outcome", "chart-answer-rates", "chart-growth", "chart-coverage"):
        page.wait_for_selector(f'#{chart}[data-drawn="1"]')
    assert page.evaluate("typeof Chart") == "function"  # the vendored library, from our origin
    assert "Delft" in page.inner_text("#coverage-table")
    screenshot(page, "people-04-evaluation")
    with page.expect_download() as download:
        page.click("text=gemeenten")
    assert download.value.suggested_filename.startswith("burgernet-gemeenten-")
    page.click("#coverage-table >> text=aanmeldpagina")
    assert "Doe mee met Burgernet in Delft" in page.inner_text("h1")
    assert int(page.inner_text("#count-participants")) == 40
    page.click(".share-link a")
    page.wait_for_url(re.compile(r".*/aanmelden\?gemeente=Delft$"))
    assert "in Delft" in page.inner_text("h1")
    assert script_errors(page) == []
