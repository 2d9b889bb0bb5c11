"""The settings and database of a command-line process.

Commands find them in click's context (`current_settings()`, `current_db()`); the root group
puts a `Runtime` there, and tests pass their own (`CliRunner().invoke(..., obj=Runtime(...))`).
No command builds the web app unless it serves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from config.checks import ConfigurationRefused, refuse_bad_configuration
from config.settings import Settings, get_settings
from db.database import Database


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    database: Database | None = None

    @property
    def db(self) -> Database:
        if self.database is None:
            self.database = Database(self.settings.sqlalchemy_url)
        return self.database


def current_runtime() -> Runtime:
    return click.get_current_context().ensure_object(Runtime)


def current_settings() -> Settings:
    return current_runtime().settings


def current_db() -> Database:
    return current_runtime().db


def refuse_unless_configured(role: str) -> None:
    """The start-up check of a long-running process (`dialer run`, `scheduler run`, `ivr serve`):
    a configuration that must not run ends the command with a message naming each setting."""
    try:
        refuse_bad_configuration(current_settings(), role, current_db().engine)
    except ConfigurationRefused as exc:
        raise click.ClickException(str(exc)) from None
