"""The verification call: a participant who chose "call me" hears their code, twice.

    start ─ machine ─> wait for the beep ─┐
          └ person ───────────────────────┴─> "your code is" + the digits one by one
                                             ─> "I repeat" + the digits ─> "not asked for it?
                                                you can hang up" ─> hang up

The code is in the call's context (`code`, the digits; over Asterisk from the channel variable
BURGERNET_CODE that participants.verification gives the call), never in the database in
clear. Each digit is spoken as its own word ("vier", "acht", ...), so the ten digit sounds are
rendered once and no code is ever written to the audio cache. Context keys: delivery_id, code.

Twilio speaks verification codes as inline TwiML (dialer.backends.twilio): a flow there would
carry the code in its webhook URLs, so this flow runs on Asterisk only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ivr.flow import AwaitMessageEnd, Branch, CallEnv, Flow, FlowError, Hangup, Play, Say, SayFrom, Speech
from prompts.spoken import digit_word

CODE_PATTERN = re.compile(r"\d{4,10}")


def code_digits(code: object) -> str:
    """'4 8 2 9 1 3' or '482913' -> '482913'; anything else is refused."""
    digits = re.sub(r"\s+", "", str(code or ""))
    if not CODE_PATTERN.fullmatch(digits):
        raise FlowError("verification flow: the call carries no valid code (4 to 10 digits)")
    return digits


def machine_or_person(env: CallEnv, _ctx: Mapping) -> str:
    verdict = (env.answered_by or "human").lower()
    return "machine" if verdict.startswith("machine") or verdict == "fax" else "human"


def spoken_digits(env: CallEnv, ctx: Mapping) -> list[Speech]:
    return [Speech(digit_word(d)) for d in code_digits(ctx.get("code"))]


HANDLERS = {
    "machine_or_person": machine_or_person,
    "spoken_digits": spoken_digits,
}

VERIFICATION_FLOW = Flow.build(
    "verification",
    start="start",
    nodes=[
        Branch("start", decide="machine_or_person", branches={"machine": "machine_wait", "human": "code"}),
        AwaitMessageEnd("machine_wait", next="code", max_s=30),
        Play("code", prompts=(Say("verification_intro"), SayFrom("spoken_digits")), next="again"),
        Play("again", prompts=(Say("verification_repeat"), SayFrom("spoken_digits")), next="end"),
        Hangup("end", prompts=(Say("verification_end"),)),
    ],
    handlers=HANDLERS,
)
