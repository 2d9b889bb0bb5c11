"""The Dutch text of a fixed prompt, by key.

The prompts package owns the IVR texts and their audio (`prompts.ivr_prompts.IVR_PROMPTS`,
placeholders such as `{callback_number}` filled from settings). The few prompts the flows need
that it does not define are here, in `FLOW_PROMPTS`; its texts win for any key both define.
"""
from __future__ import annotations

import threading

from prompts.ivr_prompts import IVR_PROMPTS, ivr_prompt_text
from prompts.spoken import to_spoken

FLOW_PROMPTS: dict[str, str] = {
    "callback_one_action": "U belt over de volgende actie.",
    "callback_offer_control_room": (
        "Wilt u toch de meldkamer spreken, druk dan op 1. Anders kunt u ophangen."
    ),
    "callback_saved_bye": (
        "Uw melding wordt zo snel mogelijk bekeken. Heeft u spoed, bel dan 112. Tot ziens."
    ),
    "callback_room_unreachable": (
        "De meldkamer is op dit moment niet bereikbaar. Heeft u spoed, bel dan 112. Tot ziens."
    ),
    "callback_goodbye": "Bedankt voor uw telefoontje. Tot ziens.",
    "callback_transfer_or_record": (
        "U wordt nu doorverbonden met de meldkamer. "
        "Wilt u liever uw waarneming inspreken, druk dan 1."
    ),
    "callback_unreachable_record": (
        "De meldkamer is nu niet bereikbaar. Spreek na de piep uw waarneming in."
    ),
    # --- the outcome call (afloopbericht) ---
    "outcome_repeat_offer": "Druk op 1 om dit bericht nog een keer te horen.",
    # --- the verification call (the code's digits are spoken between these) ---
    "verification_intro": "Dit is Burgernet. Uw verificatiecode is:",
    "verification_repeat": "Ik herhaal:",
    "verification_end": "Niet aangevraagd? Dan kunt u ophangen. Tot ziens.",
}


class UnknownPromptKey(KeyError):
    pass


def is_package_prompt(key: str) -> bool:
    """True when the prompts package renders this key (and an administrator may replace it)."""
    return key in IVR_PROMPTS


_TEXTS: dict[tuple[str, str], str] = {}
_TEXTS_LOCK = threading.Lock()


def prompt_text(key: str, settings) -> str:
    """The spoken Dutch text of a fixed prompt (numbers as words, as the prompts package
    speaks them). Remembered per key and call-back number, the only setting a fixed prompt
    uses: every turn of every call asks for these texts."""
    memo = (key, settings.callback_number)
    text = _TEXTS.get(memo)
    if text is None:
        if key in IVR_PROMPTS:
            text = ivr_prompt_text(key, settings)
        elif key in FLOW_PROMPTS:
            text = to_spoken(FLOW_PROMPTS[key])
        else:
            raise UnknownPromptKey(f"no text for IVR prompt {key!r}")
        with _TEXTS_LOCK:
            _TEXTS[memo] = text
    return text
