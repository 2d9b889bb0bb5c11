"""The alert flow's reference walks: scripted inputs and the steps the engine must produce.

Each walk: (answered_by, [inputs], [expected step summaries, one more than inputs]). The engine
test checks the summaries; each renderer's test plays the same inputs over its wire format and
checks that it did the same steps. Import with tests/ivr on sys.path (pytest's default).
"""

from __future__ import annotations

from ivr_seed import VOICE_TEXT

from ivr.flow import (
    AwaitMessageEndStep,
    HangupStep,
    Input,
    MenuStep,
    PlayStep,
    Step,
    TransferStep,
)


def summary(step: Step) -> tuple:
    """What a caller experiences at a step, in renderer-neutral terms."""
    speech = tuple(s.key or s.text for s in getattr(step, "speech", ()))
    if isinstance(step, MenuStep):
        return ("menu", step.node, speech, "".join(sorted(step.digits)))
    if isinstance(step, TransferStep):
        return ("transfer", step.node, speech, step.target)
    if isinstance(step, AwaitMessageEndStep):
        return ("await_message_end", step.node)
    if isinstance(step, HangupStep):
        return ("hangup", step.node, speech)
    assert isinstance(step, PlayStep)
    if step.digits:  # the keys act while it plays
        return ("play", step.node, speech, "".join(sorted(step.digits)))
    return ("play", step.node, speech)


MENU = ("menu", "menu", ("alert_menu",), "1239")
ALERT = ("play", "alert", (VOICE_TEXT,), "1239")
MACHINE_MESSAGE = ("play", "machine_message", (VOICE_TEXT, "machine_callback"), "1239")
CONFIRM = ("menu", "opt_out_confirm", ("opt_out_confirm",), "#*0123456789")
TRANSFER = ("transfer", "transfer", ("transfer",), "+31703456701")

# name -> (answered_by, [inputs], [expected step summaries, one more than inputs])
ALERT_WALKS = {
    "repeat_then_confirm": (
        "human",
        [Input.done(), Input.digit("1"), Input.done(), Input.digit("3")],
        [
            ALERT,
            MENU,
            ("play", "repeat", ("repeat", VOICE_TEXT), "1239"),
            MENU,
            ("hangup", "acknowledged", ("confirm_thanks", "goodbye")),
        ],
    ),
    "machine_leaves_message": (
        "machine_end_beep",
        [Input.done(), Input.done()],
        [
            ("await_message_end", "machine_wait"),
            MACHINE_MESSAGE,
            ("hangup", "machine_end", ()),
        ],
    ),
    # Keys act at once while the message plays: no waiting for the menu.
    "key_2_during_the_message_puts_through_at_once": (
        "human",
        [Input.digit("2"), Input.transfer(True, "ANSWER")],
        [ALERT, TRANSFER, ("hangup", "end", ())],
    ),
    "key_3_during_the_message_confirms": (
        "human",
        [Input.digit("3")],
        [ALERT, ("hangup", "acknowledged", ("confirm_thanks", "goodbye"))],
    ),
    "key_1_during_the_repeat_starts_it_again": (
        "human",
        [Input.done(), Input.digit("1"), Input.digit("1"), Input.done(), Input.digit("3")],
        [
            ALERT,
            MENU,
            ("play", "repeat", ("repeat", VOICE_TEXT), "1239"),
            ("play", "repeat", ("repeat", VOICE_TEXT), "1239"),
            MENU,
            ("hangup", "acknowledged", ("confirm_thanks", "goodbye")),
        ],
    ),
    "person_taken_for_a_machine_presses_2": (
        "machine_end_beep",
        [Input.done(), Input.digit("2"), Input.transfer(True, "ANSWER")],
        [("await_message_end", "machine_wait"), MACHINE_MESSAGE, TRANSFER, ("hangup", "end", ())],
    ),
    "transfer_fails_then_succeeds": (
        "human",
        [
            Input.done(),
            Input.digit("2"),
            Input.transfer(False, "NOANSWER"),
            Input.done(),
            Input.digit("2"),
            Input.transfer(True, "ANSWER"),
        ],
        [
            ALERT,
            MENU,
            TRANSFER,
            ("play", "transfer_failed", ("transfer_failed",)),
            MENU,
            TRANSFER,
            ("hangup", "end", ()),
        ],
    ),
    "opt_out_after_second_thought": (
        "human",
        [Input.done(), Input.digit("9"), Input.digit("2"), Input.done(), Input.digit("9"), Input.digit("1")],
        [
            ALERT,
            MENU,
            CONFIRM,
            ("play", "opt_out_cancelled", ("opt_out_cancelled",)),
            MENU,
            CONFIRM,
            ("hangup", "opted_out", ("opted_out", "goodbye")),
        ],
    ),
    "invalid_and_silent_until_goodbye": (
        "human",
        [Input.done(), Input.digit("5"), Input.timeout(), Input.timeout()],
        [
            ALERT,
            MENU,
            ("menu", "menu", ("invalid", "alert_menu"), "1239"),
            ("menu", "menu", ("no_input", "alert_menu"), "1239"),
            ("hangup", "goodbye", ("goodbye",)),
        ],
    ),
}
