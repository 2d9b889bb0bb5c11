"""The Twilio backend's circuit breaker: server errors and lost connections open it for a
cool-down (no attempt spent), a refusal about the call itself does not, a success closes it."""

from __future__ import annotations

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from deliveries.call_backend import BackendUnavailable, CallRequest, OriginateError
from dialer.backends.twilio import TwilioCallBackend, TwilioOriginateError


class StubCalls:
    def __init__(self):
        self.answers: list = []  # an exception to raise, or a sid to return
        self.asked = 0

    def create(self, **params):
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return type("Call", (), {"sid": answer})()


class StubClient:
    def __init__(self):
        self.calls = StubCalls()


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def server_error(status=503):
    return TwilioRestException(
        status, "https://api.twilio.com/Calls.json", msg="Service Unavailable", code=None
    )


def request(i=7):
    return CallRequest(delivery_id=i, number="+31612345678", caller_id="0343529850", timeout_s=30)


@pytest.fixture
def backend(twilio_settings):
    clock = Clock()
    backend = TwilioCallBackend(
        twilio_settings, StubClient(), breaker_threshold=3, breaker_cooldown_s=5.0, monotonic=clock
    )
    backend.clock = clock
    return backend


def test_consecutive_server_errors_open_the_breaker_for_a_cool_down(backend):
    calls = backend.client.calls
    calls.answers = [server_error(), requests.ConnectionError("refused"), server_error(502)]
    for _ in range(3):
        with pytest.raises(BackendUnavailable) as err:
            backend.originate(request())
        assert isinstance(err.value, TwilioOriginateError) and not err.value.permanent
    assert backend.unavailable_reason() is not None
    assert backend.unavailable_reason().startswith("Twilio niet bereikbaar")
    with pytest.raises(BackendUnavailable):
        backend.originate(request())
    assert calls.asked == 3  # open: Twilio was not even asked

    backend.clock.t += 5.1  # cool-down over: the next originate is a probe
    assert backend.unavailable_reason() is None
    calls.answers = [server_error()]
    with pytest.raises(BackendUnavailable):
        backend.originate(request())
    assert backend.unavailable_reason() is not None  # a failed probe opens it again at once

    backend.clock.t += 5.1
    calls.answers = ["CA" + "0" * 32]
    assert backend.originate(request()) == "CA" + "0" * 32
    assert backend.unavailable_reason() is None


def test_fewer_errors_than_the_threshold_leave_it_closed(backend):
    calls = backend.client.calls
    calls.answers = [server_error(), "CA1", server_error(), server_error(), "CA2"]
    with pytest.raises(BackendUnavailable):
        backend.originate(request())
    assert backend.originate(request()) == "CA1"  # a success resets the count
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            backend.originate(request())
    assert backend.unavailable_reason() is None
    assert backend.originate(request()) == "CA2"


def test_a_refused_number_is_not_an_outage(backend):
    calls = backend.client.calls
    refused = TwilioRestException(400, "https://api.twilio.com/Calls.json", msg="invalid", code=21211)
    calls.answers = [refused] * 4
    for _ in range(4):
        with pytest.raises(OriginateError) as err:
            backend.originate(request())
        assert not isinstance(err.value, BackendUnavailable) and err.value.permanent
    assert backend.unavailable_reason() is None
