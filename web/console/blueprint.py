"""The console's one blueprint; its views register themselves from the modules beside this one."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__)
