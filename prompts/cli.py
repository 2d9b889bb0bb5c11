"""`burgernet prompts ...` commands: say a text, render the IVR prompts, compose an alert."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click
from sqlalchemy import select

from db.models import ControlRoom
from db.runtime import current_db, current_settings
from prompts.audio import render
from prompts.callback_number import callback_number_for, sender_for
from prompts.errors import PromptError
from prompts.ivr_prompts import ivr_prompt_audio, recording_path, static_prompt_keys
from prompts.messages import compose_alert

prompts_group = click.Group("prompts", help="Dutch messages, text-to-speech and IVR prompt audio.")


def _fail(error: PromptError) -> click.ClickException:
    return click.ClickException(f"{error} ({error.user_message})")


@prompts_group.command("say")
@click.argument("text")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="WAV file to write.",
)
@click.option("--web", is_flag=True, help="Write the full-rate web version instead of 8 kHz telephony audio.")
def say(text: str, output: Path, web: bool) -> None:
    """Speak TEXT (Dutch) and write it as 8 kHz mono 16-bit WAV (or --web)."""
    try:
        rendered = render(text, current_settings())
    except PromptError as error:
        raise _fail(error) from None
    shutil.copyfile(rendered.web if web else rendered.wav_8k, output)
    click.echo(f"{output}: {rendered.duration_s:.2f} s{' (cached)' if rendered.cached else ''}")
    click.echo(f"spoken text: {rendered.text}")


@prompts_group.command("render-ivr")
def render_ivr() -> None:
    """Render every fixed IVR prompt (recorded replacements win) into the audio cache, and
    ship the dialplan's fallback apology (`technical_error`) as
    `<asterisk.sounds_dir>/burgernet-fallback.wav`, which [burgernet-fallback] plays when the
    IVR cannot be reached: without it a failed call would hang up in silence."""
    settings = current_settings()
    try:
        for key in static_prompt_keys():
            rendered = ivr_prompt_audio(key, settings)
            source = "opname" if recording_path(key, settings).exists() else "tts"
            click.echo(f"{key:28} {source:6} {rendered.duration_s:6.2f} s  {rendered.asterisk_name}")
        fallback = ivr_prompt_audio(FALLBACK_PROMPT, settings)
        target = Path(settings.asterisk.sounds_dir) / FALLBACK_FILE
        _install(fallback.wav_8k, target)
        click.echo(f"{'dialplan fallback':28} {'':6} {fallback.duration_s:6.2f} s  {target.with_suffix('')}")
    except (PromptError, OSError) as error:
        if isinstance(error, OSError):
            raise click.ClickException(f"cannot write the fallback prompt: {error}") from None
        raise _fail(error) from None


# The dialplan's [burgernet-fallback] plays ${BURGERNET_SOUNDS}/burgernet-fallback.
FALLBACK_PROMPT = "technical_error"
FALLBACK_FILE = "burgernet-fallback.wav"


def _install(source: Path, target: Path) -> None:
    """Copy `source` to `target` atomically, readable by Asterisk."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".install-", suffix=target.suffix)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@prompts_group.command("compose")
@click.argument("incident_type")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=VALUE",
    help="A description field, e.g. --field gender=male --field age=20-25.",
)
@click.option("--free-text", default="", help="Additional free text from the centralist.")
@click.option(
    "--room",
    default=None,
    help="Control room (name) whose call-back number the alert names (default: the global one).",
)
def compose(incident_type: str, fields: tuple[str, ...], free_text: str, room: str | None) -> None:
    """Print the alert for every channel, from description fields."""
    description = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--field")
        description[name] = value
    control_room = None
    if room:
        with current_db().session() as session:
            control_room = session.scalars(select(ControlRoom).where(ControlRoom.name == room)).first()
        if control_room is None:
            raise click.ClickException(f"no control room {room!r}")
    number = callback_number_for(control_room, current_settings().callback_number)
    try:
        message = compose_alert(
            incident_type, description, free_text, number, sender=sender_for(control_room, current_settings())
        )
    except PromptError as error:
        raise _fail(error) from None
    click.echo(f"STEM:    {message.voice}")
    click.echo(f"TEKST:   {message.display}")
    click.echo(
        f"SMS:     {message.sms}  [{len(message.sms)} tekens, {message.sms_encoding}, "
        f"{message.sms_segments} deel/delen]"
    )
    click.echo(f"E-MAIL:  {message.email_subject}")
