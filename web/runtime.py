"""Access to the settings and database of the running app (web requests and CLI commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from config.settings import Settings
    from db.database import Database


def current_settings() -> Settings:
    return current_app.extensions["burgernet.settings"]


def current_db() -> Database:
    return current_app.extensions["burgernet.db"]
