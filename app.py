"""The Flask app factory and the `burgernet` command group. Only wiring lives here."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from config.logging import configure_logging
from config.runtime import current_db, current_settings
from config.settings import PROJECT_ROOT, Settings, get_settings
from db.database import Database
from dialer.backends.asterisk_bench import bench_asterisk, bench_asterisk_originate
from dialer.backends.twilio_bench import bench_twilio
from dialer.bench import bench_dialer
from dialer.cli import action_group, dialer_group
from evaluation.bench import bench_evaluation
from evaluation.cli import evaluation_group
from ivr.bench import bench_fastagi
from ivr.cli import ivr_group
from participants.bench import bench_select
from participants.cli import demo_group, participants_group
from prompts.cli import bench_tts, prompts_group
from web.cli import api_token_group


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    settings.ensure_instance_dirs()
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "web" / "templates"),
        static_folder=str(PROJECT_ROOT / "web" / "static"),
    )
    app.config["SECRET_KEY"] = settings.secret_key or _instance_secret(settings)
    app.extensions["burgernet.settings"] = settings
    app.extensions["burgernet.db"] = Database(settings.sqlalchemy_url)

    from web import register_blueprints

    register_blueprints(app)
    return app


def _instance_secret(settings: Settings) -> str:
    """A random secret kept in the instance folder, so sessions survive a restart."""
    path = settings.instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


cli = FlaskGroup(create_app=create_app, help="Burgernet call platform.")

db_group = AppGroup("db", help="Database schema.")


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (alembic upgrade head)."""
    current_db().upgrade()
    click.echo(f"database at newest schema: {current_db().engine.url.render_as_string()}")


bench_group = AppGroup("bench", help="Benchmarks; each prints one JSON line last.")

# Every capability brings its own command group; the benchmarks gather under `bench`.
for group in (db_group, bench_group, participants_group, demo_group, prompts_group, dialer_group,
              action_group, ivr_group, evaluation_group, api_token_group):
    cli.add_command(group)
for benchmark in (bench_select, bench_tts, bench_dialer, bench_asterisk, bench_asterisk_originate,
                  bench_fastagi, bench_twilio, bench_evaluation):
    bench_group.add_command(benchmark)


@cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host: str, port: int) -> None:
    """Migrate, then run the web app (training mode on the simulated phone network)."""
    configure_logging()
    settings = current_settings()
    current_db().upgrade()
    if settings.training_mode:
        click.echo("TRAININGSMODUS: gesimuleerd telefoonnetwerk, er wordt niemand echt gebeld.")
        from dialer.cli import start_background_dialer

        start_background_dialer(current_db(), settings)
    from flask import current_app
    from werkzeug.serving import run_simple

    # Flask ignores app.run() inside its own CLI, so serve the app with werkzeug directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)
