"""The alert flow's reference walks (tests/ivr/alert_walks.py) through the TwiML renderer.

The same scripted inputs the engine test and the FastAGI test use are played by the fake
Twilio over HTTP: digits as <Gather> callbacks, silence as an empty <Gather> result, transfer
results as <Dial> callbacks, and the end of a prompt as the <Redirect> Twilio follows by
itself. Every TwiML document the platform answered is read back into a step summary and
compared with the reference, prompt text for prompt text. The FastAGI renderer is held to the
same reference (tests/ivr/test_fastagi_walks.py): one flow, two renderers, the same steps.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))

from alert_walks import ALERT_WALKS
from ivr_seed import VOICE_TEXT, seed_all

from deliveries.call_backend import CallRequest
from dialer.backends.twilio import TwilioCallBackend
from ivr.flow import InputKind
from ivr.prompt_texts import prompt_text


def twiml_summary(url: str, document: str) -> tuple:
    """What one TwiML document makes the caller experience: (kind, node, texts[, target]).
    The node is read from the URL Twilio is told to report to (none after a hangup)."""
    verbs = list(ET.fromstring(document))
    said = tuple((v.text or "").strip() for v in verbs if v.tag == "Say")
    tags = [v.tag for v in verbs]

    def node_of(verb) -> str:
        return parse_qs(urlparse(verb.get("action") or verb.text.strip()).query)["node"][0]

    if "Gather" in tags:
        gather = verbs[tags.index("Gather")]
        gathered = tuple((s.text or "").strip() for s in gather.iter("Say"))
        if "Redirect" in tags and gather.get("actionOnEmptyResult") != "true":
            # A message whose keys act while it plays; no key: on to the next step.
            return ("play", node_of(gather), gathered, "keys")
        return ("menu", node_of(gather), gathered)
    if "Dial" in tags:
        dial = verbs[tags.index("Dial")]
        return ("transfer", node_of(dial), said, "".join(dial.itertext()).strip())
    if "Hangup" in tags:
        return ("hangup", None, said)
    redirect = verbs[tags.index("Redirect")]
    if not said:
        return ("await_message_end", node_of(redirect))
    return ("play", node_of(redirect), said)


def reference_summary(summary: tuple, settings) -> tuple:
    """The engine's reference step with prompt keys turned into the texts Twilio says."""
    kind, node = summary[0], summary[1]
    if kind == "await_message_end":
        return (kind, node)
    texts = tuple(item if item == VOICE_TEXT else prompt_text(item, settings) for item in summary[2])
    if kind == "hangup":
        return (kind, None, texts)
    if kind == "transfer":
        return (kind, node, texts, summary[3])
    if kind == "play" and len(summary) > 3:
        return (kind, node, texts, "keys")  # inside a <Gather> (TwiML does not list the digits)
    return (kind, node, texts)  # play; menu (TwiML does not list the valid digits)


@pytest.mark.parametrize("name", sorted(ALERT_WALKS))
def test_twiml_does_the_engine_walk(name, db, twilio_settings, live_app, fake_twilio):
    answered_by, inputs, expected = ALERT_WALKS[name]
    seeded = seed_all(db)
    twilio_settings.twilio.async_amd = False  # the verdict comes with the first request
    sid = TwilioCallBackend(twilio_settings).originate(
        CallRequest(seeded.delivery_id, "+31612345678", twilio_settings.caller_id, 30)
    )
    fake_twilio.calls[sid].status_callback = None  # only the flow is walked here
    fake_twilio.answer(sid, answered_by=answered_by)
    for happened, step in zip(inputs, expected, strict=False):
        if happened.kind is InputKind.DIGITS:
            fake_twilio.press(sid, happened.digits)
        elif happened.kind is InputKind.TIMEOUT:
            fake_twilio.gather_timeout(sid)
        elif happened.kind is InputKind.TRANSFER:
            fake_twilio.dial_result(sid, "completed" if happened.answered else "no-answer")
        elif step[0] == "play" and len(step) > 3:  # a message that takes keys, heard out
            fake_twilio.gather_timeout(sid)
        else:
            assert happened.kind is InputKind.DONE  # Twilio follows the <Redirect> itself
    call = fake_twilio.call(sid)
    assert call.ended
    seen = [twiml_summary(url, document) for url, document in call.documents]
    assert seen == [reference_summary(s, twilio_settings) for s in expected]


def test_fake_twilio_refuses_a_dial_the_real_one_refuses():
    from tests.support.fake_twilio import DIAL_REFUSED_NUMBER, DIAL_REFUSED_SIP, dial_refusal

    def dial(inner: str):
        return ET.fromstring(f"<Dial>{inner}</Dial>")

    assert dial_refusal(dial("<Number>PJSIP/burgernet-centralist</Number>"))[0] == DIAL_REFUSED_NUMBER
    assert dial_refusal(dial("<Sip>burgernet-centralist</Sip>"))[0] == DIAL_REFUSED_SIP
    assert dial_refusal(dial("<Number>+31703456701</Number>")) is None
    assert dial_refusal(dial("<Sip>sip:meldkamer@sip.example.nl</Sip>")) is None


def test_a_pbx_endpoint_target_is_not_dialled_on_twilio(db, twilio_settings, live_app, fake_twilio):
    """Twilio cannot reach PJSIP/...: the transfer fails at once (no <Dial>), the caller hears
    so and gets the menu again."""
    seeded = seed_all(db, operator_target="PJSIP/burgernet-centralist")
    twilio_settings.twilio.async_amd = False
    sid = TwilioCallBackend(twilio_settings).originate(
        CallRequest(seeded.delivery_id, "+31612345678", twilio_settings.caller_id, 30)
    )
    fake_twilio.calls[sid].status_callback = None
    fake_twilio.answer(sid, answered_by="human")
    fake_twilio.press(sid, "2")
    call = fake_twilio.call(sid)
    assert call.dialed == [] and call.errors == []
    kinds = [twiml_summary(url, document)[:2] for url, document in call.documents]
    assert ("transfer_failed" in {node for _kind, node in kinds}) and kinds[-1][0] == "menu", kinds
