"""The errors of the action use cases. Each carries `user_message`, the Dutch text for the
centralist; the console flashes it, the API returns it, the CLI prints it on stderr."""

from __future__ import annotations


class ActionError(Exception):
    """An action cannot do what was asked; `user_message` is the Dutch text for the centralist."""

    def __init__(self, message: str, user_message: str):
        super().__init__(message)
        self.user_message = user_message


class ActionNotFound(ActionError):
    """No such action, or not one of the asking control room's."""


class NormsNotMet(ActionError):
    """The Burgernet norms were not confirmed for this action."""


class SupervisorRequired(ActionError):
    """An action above the configured size needs a supervisor who has not confirmed it."""


class RecipientsChanged(ActionError):
    """The circle holds another number of recipients than the centralist confirmed."""


class InvalidActionRequest(ValueError):
    """One or more fields are wrong; `errors` maps field name -> Dutch message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid action: " + ", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    @property
    def user_message(self) -> str:
        return " ".join(self.errors.values())
