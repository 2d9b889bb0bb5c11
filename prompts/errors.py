"""Domain errors of message composition and speech.

Each error carries a clear English message (for logs and developers) and a Dutch
`user_message` that the web layer shows to the centralist as is.
"""

from __future__ import annotations


class PromptError(ValueError):
    """Base class: the input cannot be turned into a message or audio."""

    def __init__(self, message: str, user_message: str) -> None:
        super().__init__(message)
        self.user_message = user_message


class UnspeakableText(PromptError):
    """Text that a voice cannot say well: URLs, e-mail addresses, emoji, markup, foreign scripts."""

    def __init__(self, message: str, user_message: str, problems: list[str]) -> None:
        super().__init__(message, user_message)
        self.problems = problems


class InvalidDescription(PromptError):
    """A description (signalement) field is unknown, missing, out of range or too long."""

    def __init__(self, message: str, user_message: str, field: str | None = None) -> None:
        super().__init__(message, user_message)
        self.field = field


class UnknownIncidentType(PromptError):
    pass


class UnknownOutcome(PromptError):
    pass


class UnknownPrompt(PromptError):
    """An IVR prompt key that does not exist."""


class TtsError(PromptError):
    """The text-to-speech engine is missing or failed."""


class AudioError(PromptError):
    """Audio conversion failed or a recorded prompt file cannot be read."""


class NothingChanged(InvalidDescription):
    """An update (vervolgbericht) that says nothing the alert did not already say."""
