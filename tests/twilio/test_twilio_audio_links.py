"""Alert audio for Twilio's <Play> is served only by a short-lived link signed for one delivery
or call, and only on the Twilio backend (issue 15, finding 2): a key computed from a guessed
alert text, an expired link, a link signed for another delivery or with another secret, all get
the same 404 as a key that was never rendered; and no link shows the key."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select
from twilio_seed import OUR_NUMBER, VOICE_TEXT, seed_wave

from db.models import Delivery, DeliveryState
from deliveries.call_backend import CallRequest
from deliveries.states import transition
from dialer.backends.twilio import TwilioCallBackend
from prompts.audio import cache_key, prepare_text
from prompts.tts import engine_from_settings
from web.audio_links import TWILIO_AUDIO_TTL_S, audio_key, sign_audio

NUMBER, OTHER = "+31612345601", "+31612345602"


@pytest.fixture
def played(db, clock, twilio_settings, live_app, fake_twilio):
    """An answered alert call whose prompts Twilio <Play>s from our audio route."""
    twilio_settings.twilio.play_rendered_audio = True
    wave = seed_wave(db, [NUMBER, OTHER])
    delivery_id = wave.deliveries[NUMBER]
    with db.transaction() as s:
        transition(s, s.get(Delivery, delivery_id), DeliveryState.DIALING, event="test.dial", clock=clock)
    sid = TwilioCallBackend(twilio_settings).originate(CallRequest(delivery_id, NUMBER, "0343529850", 30))
    with db.transaction() as s:
        s.get(Delivery, delivery_id).provider_id = sid
    fake_twilio.answer(sid)
    fake_twilio.gather_timeout(sid)  # the alert heard out (no key): the menu plays next
    urls = [h[len("play:") :] for h in fake_twilio.call(sid).heard if h.startswith("play:")]
    assert urls
    return wave, urls


def _split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def _get(base: str, query: dict[str, str]) -> requests.Response:
    return requests.get(base + ("?" + urlencode(query) if query else ""), timeout=10)


def test_played_audio_is_a_signed_link_bound_to_the_delivery(played):
    wave, urls = played
    for url in urls:
        base, query = _split(url)
        assert set(query) == {"for", "exp", "sig"}
        assert query["for"] == f"delivery:{wave.deliveries[NUMBER]}"
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content[:4] == b"RIFF"


def test_a_key_from_a_guessed_alert_text_is_not_served(played, twilio_settings, live_app):
    """The oracle of the attack run: the key of the alert text, computed by anyone who guesses
    the text (a missing person's name), serves nothing without a signature."""
    _, urls = played
    guessed = cache_key(engine_from_settings(twilio_settings), prepare_text(VOICE_TEXT))
    assert not any(guessed in url for url in urls)  # a link seen in a log tells nothing either
    assert requests.get(live_app.url(f"/twilio/audio/{guessed}.wav"), timeout=10).status_code == 404
    base, query = _split(urls[0])
    assert _get(live_app.url(f"/twilio/audio/{guessed}.wav"), query).status_code == 404
    assert requests.get(live_app.url("/twilio/audio/" + "0" * 64 + ".wav"), timeout=10).status_code == 404


def test_a_tampered_or_foreign_link_is_refused(played, twilio_settings, live_app, clock):
    wave, urls = played
    base, query = _split(urls[0])
    other_key_base, other_query = _split(urls[1])
    assert base != other_key_base
    other_delivery = f"delivery:{wave.deliveries[OTHER]}"
    refused = [
        (base, {**query, "for": other_delivery}),  # bound to another delivery
        (base, {**query, "exp": str(int(query["exp"]) + 3600)}),  # a longer life
        (base, {**query, "sig": "0" * 64}),
        (base, {k: v for k, v in query.items() if k != "sig"}),
        (base, other_query),  # the signature of another key
    ]
    guessed = cache_key(engine_from_settings(twilio_settings), prepare_text(VOICE_TEXT))
    foreign = sign_audio("another-secret", "twilio", guessed, query["for"], clock.now(), TWILIO_AUDIO_TTL_S)
    refused.append((base.rsplit("/", 1)[0] + f"/{foreign.token}.wav", foreign.as_query()))
    refused.append((base.rsplit("/", 1)[0] + f"/{'0' * 80}.wav", query))  # another token
    for url, params in refused:
        assert _get(url, params).status_code == 404, params
    assert _get(base, query).status_code == 200


def test_an_expired_link_is_refused(played, clock):
    _, urls = played
    clock.advance(TWILIO_AUDIO_TTL_S + 1)
    assert requests.get(urls[0], timeout=10).status_code == 404


def test_not_served_on_the_simulator_backend(played, twilio_settings):
    _, urls = played
    twilio_settings.phone_backend = "simulator"
    assert requests.get(urls[0], timeout=10).status_code == 404
    twilio_settings.phone_backend = "asterisk"
    assert requests.get(urls[0], timeout=10).status_code == 404


def test_the_call_back_line_plays_links_bound_to_its_call(db, twilio_settings, live_app, fake_twilio):
    """Before the caller is matched to an alert the links are bound to the call; after, to the
    delivery that alert reached the caller by."""
    twilio_settings.twilio.play_rendered_audio = True
    wave = seed_wave(db, [NUMBER])
    call = fake_twilio.incoming_call(NUMBER, OUR_NUMBER, live_app.url("/twilio/voice/callback"))
    urls = [h[len("play:") :] for h in fake_twilio.call(call.sid).heard if h.startswith("play:")]
    assert urls
    bound = [_split(url)[1]["for"] for url in urls]
    assert bound[0] == f"call:{call.sid}"
    assert set(bound) <= {f"call:{call.sid}", f"delivery:{wave.deliveries[NUMBER]}"}
    for url in urls:
        assert requests.get(url, timeout=10).status_code == 200


def test_links_are_bound_to_purpose_token_subject_and_time_and_hide_the_key(clock):
    now = clock.now()
    key = "3f" * 32
    link = sign_audio("s3cret", "twilio", key, "delivery:1", now, 60)
    assert key not in link.token and len(link.token) == 80
    assert sign_audio("s3cret", "twilio", key, "delivery:1", now, 60).token != link.token  # fresh each time
    ok = ("s3cret", "twilio", link.token, "delivery:1", str(link.expires), link.signature, now)
    assert audio_key(*ok) == key
    flipped = "0" if link.token[-1] != "0" else "1"
    for index, value in [
        (0, "other"),
        (1, "console"),
        (2, link.token[:-1] + flipped),
        (3, "delivery:2"),
        (4, "99"),
    ]:
        changed = list(ok)
        changed[index] = value
        assert audio_key(*changed) is None
    assert audio_key(*ok[:4], str(link.expires), link.signature, now.replace(year=now.year + 1)) is None
    assert audio_key(*ok[:4], "²", link.signature, now) is None  # a Unicode digit
    with pytest.raises(ValueError):
        sign_audio("", "twilio", key, "delivery:1", now, 60)
    with pytest.raises(ValueError):
        sign_audio("s3cret", "twilio", "k" * 64, "delivery:1", now, 60)  # not a cache key


def test_no_delivery_row_needed_to_refuse(db, live_app):
    """A refused link touches nothing: no delivery lookup, no rendering."""
    with db.session() as s:
        assert s.scalars(select(Delivery)).all() == []
    assert requests.get(live_app.url("/twilio/audio/x.wav?for=a&exp=1&sig=b"), timeout=10).status_code == 404
