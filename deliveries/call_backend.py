"""The port between the dialer and a phone network: originate, hang up, events back.

Three adapters implement it: the simulator (training mode), Asterisk (AMI) and Twilio (REST).
The dialer core never imports an adapter; adapters never touch the database. Events flow back
through the sink given to `start`, and `deliveries.events` applies them to the delivery rows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class CallEventType(str, enum.Enum):
    DIALING = "dialing"  # the provider accepted the originate
    RINGING = "ringing"
    ANSWERED = "answered"  # answered by a person (or detection not used)
    MACHINE = "machine"  # answering machine detected
    DTMF = "dtmf"  # a digit pressed (informational; the IVR flow stores menu choices)
    COMPLETED = "completed"  # an answered call ended normally
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # could not be placed or was rejected; see hangup_cause


@dataclass(frozen=True)
class CallRequest:
    delivery_id: int
    number: str  # E.164
    caller_id: str
    timeout_s: int
    flow: str = "alert"  # the IVR flow the answered call runs
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallEvent:
    delivery_id: int
    type: CallEventType
    provider: str
    provider_id: str | None = None
    at: datetime | None = None
    hangup_cause: str | None = None
    digits: str | None = None
    # The provider's own identity for this event, so a repeated callback counts once.
    event_key: str | None = None
    detail: dict = field(default_factory=dict)


EventSink = Callable[[CallEvent], None]


class OriginateError(Exception):
    """The backend could not hand the call to the network (link down, rejected request)."""


class BackendUnavailable(OriginateError):
    """The backend could not take the call at all (the link to the PBX is down, the PBX is
    shutting down, the provider's API does not answer): nothing reached the network, so no
    attempt was spent. The dialer puts the row back as it was; `str()` says why."""


# Hangup causes of an answered call that ended before the alert message was heard, set by the
# adapters (never by the participant's own hang-up): the PBX went down or restarted, or the IVR
# could not run and the dialplan's fallback apology played. `deliveries.events` stores such a
# call as FAILED with this cause (retried by the policy), unless the flow already recorded that
# the message was heard.
CALL_CUT = "CALL_CUT"
IVR_FALLBACK = "IVR_FALLBACK"
CUT_CAUSES = frozenset({CALL_CUT, IVR_FALLBACK})


class CallBackend(Protocol):
    name: str
    # An adapter whose provider imposes its own calls-per-second limit (a Twilio account)
    # also exposes it as `max_cps`; the dialer then paces under the lower of the two.

    def start(self, sink: EventSink) -> None:
        """Connect, and deliver every call event to `sink` from now on."""

    def originate(self, request: CallRequest) -> str | None:
        """Place a call without waiting for it to be answered; return the provider's id if
        already known. Raises OriginateError when the call could not be handed over."""

    def hangup(self, delivery_id: int, provider_id: str | None) -> None:
        """Hang up a call in progress (used when an action is stopped)."""

    def unavailable_reason(self) -> str | None:
        """None when calls can be handed over now; else why not (the AMI link is down, the
        PBX is shutting down, the provider refuses requests). The dialer's circuit breaker
        asks before each batch: while a reason is given it originates nothing and spends no
        attempt, and resumes as soon as None comes back."""

    def stop(self) -> None:
        """Disconnect; calls in progress are left to finish."""
