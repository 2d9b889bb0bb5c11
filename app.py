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

cli.add_command(db_group)
cli.add_command(bench_group)

from prompts.cli import bench_tts, prompts_group  # noqa: E402

cli.add_command(prompts_group)
bench_group.add_command(bench_tts)

from evaluation.bench import bench_evaluation  # noqa: E402
from evaluation.cli import evaluation_group  # noqa: E402

cli.add_command(evaluation_group)
bench_group.add_command(bench_evaluation)

from participants.bench import bench_select  # noqa: E402

bench_group.add_command(bench_select)

from ivr.bench import bench_fastagi  # noqa: E402
from ivr.cli import ivr_group  # noqa: E402

cli.add_command(ivr_group)
bench_group.add_command(bench_fastagi)

from participants.cli import demo_group, participants_group  # noqa: E402

cli.add_command(participants_group)
cli.add_command(demo_group)

from web.cli import api_token_group  # noqa: E402

cli.add_command(api_token_group)

from dialer.backends.twilio_bench import bench_twilio  # noqa: E402

bench_group.add_command(bench_twilio)

from dialer.backends.asterisk_bench import bench_asterisk, bench_asterisk_originate  # noqa: E402

bench_group.add_command(bench_asterisk)
bench_group.add_command(bench_asterisk_originate)

from dialer.bench import bench_dialer  # noqa: E402
from dialer.cli import action_group, dialer_group  # noqa: E402

cli.add_command(dialer_group)
cli.add_command(action_group)
bench_group.add_command(bench_dialer)


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
