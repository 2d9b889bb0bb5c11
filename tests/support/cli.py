"""A click runner that gives commands the test's settings and database (no web app built)."""

from __future__ import annotations

from click.testing import CliRunner
from flask import Flask

from db.runtime import Runtime


class RuntimeCliRunner(CliRunner):
    def __init__(self, runtime: Runtime):
        super().__init__()
        self.runtime = runtime

    def invoke(self, cli, args=None, **kwargs):
        kwargs.setdefault("obj", self.runtime)
        return super().invoke(cli, args, **kwargs)


def cli_runner(app: Flask) -> RuntimeCliRunner:
    """The runner for an app fixture: the same settings and database as its requests."""
    return RuntimeCliRunner(
        Runtime(settings=app.extensions["burgernet.settings"], database=app.extensions["burgernet.db"])
    )
