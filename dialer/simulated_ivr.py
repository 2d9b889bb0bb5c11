"""The participant's side of an answered simulated call, walked through the real alert flow.

On a real call the IVR (FastAGI or TwiML) runs `ivr.alert_flow.ALERT_FLOW` and its handlers
store every menu choice on the delivery row. In training mode the simulated participant
presses digits; here the same flow runs with those digits, so the row ends up exactly as the
IVR would leave it (menu_choices, acknowledged, transfer_requested, opt_out_requested).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from config.clock import Clock
from config.settings import Settings
from ivr.alert_flow import ALERT_FLOW
from ivr.flow import (
    CallEnv,
    Engine,
    FlowError,
    Input,
    MenuStep,
    RecordStep,
    TransferStep,
)

MAX_TURNS = 40


def walk_alert_flow(
    session: Session,
    delivery_id: int,
    digits: Sequence[str],
    answered_by: str,
    clock: Clock,
    settings: Settings,
) -> list[str]:
    """Run the alert flow for one answered call; returns the node ids visited."""

    env = CallEnv(
        session=session, clock=clock, settings=settings, provider="simulator", answered_by=answered_by
    )
    engine = Engine(ALERT_FLOW)
    pressed = list(digits)
    turn = engine.start(env, {"delivery_id": delivery_id})
    visited = [turn.state.node]
    for _ in range(MAX_TURNS):
        if turn.step.final:
            return visited
        if isinstance(turn.step, MenuStep):
            happened = Input.digit(pressed.pop(0)) if pressed else Input.timeout()
        elif isinstance(turn.step, TransferStep):
            happened = Input.transfer(answered=True, status="ANSWER")
        elif isinstance(turn.step, RecordStep):
            happened = Input.recording(None, 0.0)
        else:
            happened = Input.done()
        turn = engine.resume(turn.state, happened, env)
        visited.append(turn.state.node)
    raise FlowError(f"simulated call of delivery {delivery_id} did not end in {MAX_TURNS} turns")
