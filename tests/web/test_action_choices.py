"""The console's small choices (issue 13, item 7): outcome choices that fit the incident type,
a draft that can be thrown away (audited), and the norm left unticked marked on the form and
tied to its message (item 8: aria-invalid, aria-describedby, an error summary)."""

from __future__ import annotations

import re

import pytest
from console_population import add_participants
from console_testing import csrf_from, login
from sqlalchemy import select
from test_console_flow import SUSPECT, post, start_action

from db.models import Action, ActionStatus, AuditEvent

CHILD = {
    **SUSPECT,
    "incident_type": "missing_child",
    "d__missing_child__age": "6",
    "d__missing_child__clothing": "een gele regenjas",
    "norm_family_consent": "on",
}


@pytest.fixture
def console(client, staff, db):
    add_participants(db, 12)
    login(client, "centralist")
    return client, csrf_from(client.get("/actions/new").get_data(as_text=True))


def _options(html: str) -> list[str]:
    select_html = html[html.index('name="outcome"') :]
    select_html = select_html[: select_html.index("</select>")]
    return re.findall(r'<option value="([a-z_]+)"', select_html)


def test_outcome_choices_fit_the_incident_type(console, db):
    client, token = console
    child = start_action(client, token, CHILD)
    assert _options(client.get(f"/actions/{child}").get_data(as_text=True)) == ["found", "no_result", "other"]
    preview = post(client, f"/actions/{child}/outcome-preview", token, {"outcome": "arrested"}).get_json()
    assert not preview["ok"] and "vermist kind" in preview["errors"]["outcome"]
    refused = client.post(
        f"/actions/{child}/end", data={"outcome": "arrested", "csrf_token": token}, follow_redirects=True
    )
    assert "past niet bij een actie over een vermist kind" in refused.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Action, child).status == ActionStatus.RUNNING
    suspect = start_action(client, token)
    assert "arrested" in _options(client.get(f"/actions/{suspect}").get_data(as_text=True))


def test_a_draft_can_be_discarded_and_the_log_keeps_it(console, db, staff):
    client, token = console
    response = post(client, "/actions/new", token, SUSPECT)
    draft = int(response.headers["Location"].split("/")[2])
    confirm = client.get(f"/actions/{draft}/confirm").get_data(as_text=True)
    assert f"/actions/{draft}/discard" in confirm and "Concept weggooien" in confirm
    listed = client.post(f"/actions/{draft}/discard", data={"csrf_token": token}, follow_redirects=True)
    assert f"Concept-actie {draft} is weggegooid." in listed.get_data(as_text=True)
    assert client.get(f"/actions/{draft}").status_code == 404
    with db.session() as s:
        assert s.get(Action, draft) is None
        event = s.scalar(select(AuditEvent).where(AuditEvent.event == "action.discarded"))
        assert event.target_id == draft and event.operator_id == staff.centralist_id
    # A started action is not a draft: it stays.
    running = start_action(client, token)
    client.post(f"/actions/{running}/discard", data={"csrf_token": token})
    with db.session() as s:
        assert s.get(Action, running).status == ActionStatus.RUNNING


def test_the_unticked_norm_is_marked_and_tied_to_its_message(console):
    client, token = console
    form = {k: v for k, v in CHILD.items() if k != "norm_family_consent"}
    html = post(client, "/actions/new", token, form).get_data(as_text=True)
    norm = r'<label class="check norm([^"]*)" data-norm="family_consent"[^>]*>\s*<input([^>]*)>'
    consent = re.search(norm, html)
    assert "norm-missing" in consent.group(1)
    assert 'aria-invalid="true"' in consent.group(2) and 'aria-describedby="err-norms"' in consent.group(2)
    ticked = re.search(r'data-norm="urgent_recent"[^>]*>\s*<input([^>]*)>', html)
    assert "aria-invalid" not in ticked.group(1)
    assert re.search(r'id="err-norms"[^>]*>[^<]*toestemming', html)
    summary = html[html.index('id="form-errors"') :]
    assert 'tabindex="-1"' in html[html.index('id="form-errors"') - 80 : html.index('id="form-errors"') + 40]
    assert 'href="#f-norm_family_consent"' in summary[: summary.index("</div>")]
