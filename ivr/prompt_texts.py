"""The Dutch text of a fixed prompt, by key.

The prompts package owns every IVR text and its audio (`prompts.ivr_prompts.IVR_PROMPTS`,
placeholders such as `{callback_number}` filled from settings); this module only looks them up,
fast, for the flows.
"""

from __future__ import annotations

import threading

from prompts.ivr_prompts import IVR_PROMPTS, ivr_prompt_text


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
        if key not in IVR_PROMPTS:
            raise UnknownPromptKey(f"no text for IVR prompt {key!r}")
        text = ivr_prompt_text(key, settings)
        with _TEXTS_LOCK:
            _TEXTS[memo] = text
    return text
