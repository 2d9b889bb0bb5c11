"""The Flask app factory and the `burgernet` command group. Only wiring lives here.

Commands get the settings and database from click's context (`db.runtime`); only `serve`
builds the web app. The benchmarks under `burgernet bench` are loaded when that group is used,
so neither the web app nor the product commands load `bench/`.
"""

from __future__ import annotations

import importlib
import secrets

import click
from flask import Flask

from actions.cli import action_group
from config.checks import refuse_bad_configuration
from config.logging import configure_logging
from config.settings import PROJECT_ROOT, Settings, get_settings
from db.database import Database
from db.runtime import Runtime, current_db, current_settings
from dialer.cli import dialer_group, scheduler_group
from evaluation.cli import evaluation_group
from ivr.cli import ivr_group
from participants.cli import demo_group, participants_group
from prompts.cli import prompts_group
from web import register_blueprints
from web.auth import init_login
from web.cli import api_token_group
from web.csrf import init_csrf
from web.heartbeat import enable_web_heartbeat
from web.validation import MAX_CONTENT_LENGTH, DatabaseIdConverter


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    *,
    production: bool | None = None,
) -> Flask:
    """The web app. `production` (default: when the settings come from the environment, as in
    `web.wsgi` under gunicorn) refuses an unsafe configuration (config.checks) before serving
    and makes every worker beat a `web` heartbeat; tests and benchmarks pass their settings."""
    if production is None:
        production = settings is None
    settings = settings or get_settings()
    database = database or Database(settings.sqlalchemy_url)
    if production:
        refuse_bad_configuration(settings, "web", database.engine)
    settings.ensure_instance_dirs()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "web" / "templates"),
        static_folder=str(PROJECT_ROOT / "web" / "static"),
    )
    app.config["SECRET_KEY"] = settings.secret_key or _instance_secret(settings)
    # Refuse oversized requests (413) before a form is parsed; ids in routes are bounded to
    # the id columns, so `<int:...>` never hands the database a number it cannot hold.
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.url_map.converters["int"] = DatabaseIdConverter
    app.extensions["burgernet.settings"] = settings
    app.extensions["burgernet.db"] = database
    init_csrf(app)  # first, so a forged request is refused before anything else runs
    init_login(app)
    register_blueprints(app)
    if production:
        enable_web_heartbeat(app)
    return app


def _instance_secret(settings: Settings) -> str:
    """A random secret kept in the instance folder, so sessions survive a restart."""
    path = settings.instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@click.group(help="Burgernet call platform.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(Runtime)


db_group = click.Group("db", help="Database schema.")


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (alembic upgrade head)."""
    current_db().upgrade()
    click.echo(f"database at newest schema: {current_db().engine.url.render_as_string()}")


class BenchGroup(click.Group):
    """`burgernet bench NAME`: each benchmark module is imported only when it is asked for."""

    BENCHMARKS = {
        "select": ("bench.select", "bench_select", "selection inside a circle vs B-tree and full scan"),
        "tts": ("bench.tts", "bench_tts", "text-to-speech of a 60-word alert, uncached and cached"),
        "dialer": ("bench.dialer", "bench_dialer", "a simulated wave: pacing efficiency"),
        "concurrent": ("bench.concurrent", "bench_concurrent", "two actions sharing one simulated trunk"),
        "asterisk": ("bench.asterisk", "bench_asterisk", "a wave through the real Asterisk testbed"),
        "asterisk-originate": ("bench.asterisk", "bench_asterisk_originate", "AMI originates per second"),
        "fastagi": ("bench.fastagi", "bench_fastagi", "concurrent calls through the FastAGI server"),
        "callback": ("bench.callback", "bench_callback", "call-back line under load: callers queue"),
        "twilio": ("bench.twilio", "bench_twilio", "signed Twilio webhooks per second"),
        "evaluation": ("bench.evaluation", "bench_evaluation", "the evaluation report"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.BENCHMARKS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.BENCHMARKS:
            return None
        module, attribute, _ = self.BENCHMARKS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary) for name, (_, _, summary) in sorted(self.BENCHMARKS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


bench_group = BenchGroup("bench", help="Benchmarks; each prints one JSON line last.")

# Every capability brings its own command group.
for group in (
    db_group,
    bench_group,
    participants_group,
    demo_group,
    prompts_group,
    dialer_group,
    scheduler_group,
    action_group,
    ivr_group,
    evaluation_group,
    api_token_group,
):
    cli.add_command(group)


@cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host: str, port: int) -> None:
    """The development web server (werkzeug, one process): for a laptop and for training.

    It neither migrates nor dials: run `burgernet db upgrade` first, and `burgernet dialer run`
    and `burgernet scheduler run` beside it (scripts/run starts them all). In production the web
    tier is gunicorn with `web.wsgi:app` (docs/deployment.md).
    """
    from werkzeug.serving import run_simple

    if not current_db().schema_is_current():
        raise click.ClickException(
            "the database is not at the newest schema; run `burgernet db upgrade` first"
        )
    configure_logging()  # after the schema check, whose alembic lines would read like a migration
    settings = current_settings()
    click.echo(
        "burgernet serve is the development server; in production run gunicorn with web.wsgi:app "
        "(docs/deployment.md)",
        err=True,
    )
    if settings.training_mode:
        click.echo("TRAININGSMODUS: gesimuleerd telefoonnetwerk, er wordt niemand echt gebeld.")
    run_simple(host, port, create_app(settings, current_db()), threaded=True, use_reloader=False)
