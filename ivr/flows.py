"""Every call flow, by the name the dialplan (`AGI(agi://.../NAME)`) and Twilio's voice webhook
URLs (`/twilio/voice/NAME`) use. Both renderers look flows up here, so there is one list."""

from __future__ import annotations

from ivr.alert_flow import ALERT_FLOW
from ivr.callback_flow import CALLBACK_FLOW
from ivr.flow import Flow
from ivr.outcome_flow import OUTCOME_FLOW
from ivr.verification_flow import VERIFICATION_FLOW

FLOWS: dict[str, Flow] = {
    "alert": ALERT_FLOW,
    "callback": CALLBACK_FLOW,
    "outcome": OUTCOME_FLOW,
    "verification": VERIFICATION_FLOW,
}

# Flows a webhook may run by name: their words can be looked up again from the delivery. A
# verification code is stored only as a hash, so it would have to travel in the webhook URLs;
# Twilio speaks it inline instead.
WEBHOOK_FLOWS = frozenset({"alert", "callback", "outcome"})


class UnknownFlow(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no call flow named {name!r}")
        self.name = name


def flow_named(name: str, *, webhook: bool = False) -> Flow:
    """The flow called `name`; with `webhook`, only the flows a webhook URL may name."""
    if name not in FLOWS or (webhook and name not in WEBHOOK_FLOWS):
        raise UnknownFlow(name)
    return FLOWS[name]
