"""Fault: the directory Asterisk records into is full (issue 19, item 4), on the real testbed.

A small tmpfs is mounted as Asterisk's recording directory (seen at the same path by the
platform and, through a second bind mount, inside the testbed's chroot). A sipp caller presses
1 to record their sighting. Whatever the disk does, the call is one Sighting row, flagged, and
the caller never hears the thank-you that says the report is saved ("vastgelegd").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from asterisk_e2e import wait_until_no_channels
from sqlalchemy import select, text
from test_full_stack import callback_seconds, seed_callback_caller

from bench.asterisk import bench_settings
from config.settings import PROJECT_ROOT
from db.database import Database
from db.models import Base, Sighting
from tests.support import testbed
from tests.support.asterisk_stack import AsteriskStack, prerender_prompts

pytestmark = [pytest.mark.e2e, pytest.mark.asterisk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SHARE = Path("/var/lib/burgernet")
CHROOT = Path(os.environ.get("BURGERNET_TESTBED_CHROOT", PROJECT_ROOT / ".cache" / "asterisk-chroot"))
SAVED = {"callback_thanks", "callback_saved_bye"}
CALLER = "+31612345678"


@contextmanager
def tmpfs_recordings(size: str, leave_free_bytes: int | None):
    """A tmpfs at SHARE/<name> for the platform and at the same path inside the chroot, filled
    up to `leave_free_bytes` (None: left empty). Unmounted (both views) and removed after."""
    directory = SHARE / f"recordings-fault-{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True)
    inside = CHROOT / str(directory).lstrip("/")
    mounted: list[Path] = []
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
        mounted.append(directory)
        if not os.path.ismount(inside):  # the share's bind mount does not propagate new mounts
            subprocess.run(["mount", "--bind", str(directory), str(inside)], check=True)
            mounted.append(inside)
        directory.chmod(0o777)
        if leave_free_bytes is not None:
            with open(directory / "filler", "wb", buffering=0) as out:
                try:
                    while os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize > leave_free_bytes:
                        out.write(b"\xff" * 4096)
                except OSError:
                    pass
        yield directory
    finally:
        for path in reversed(mounted):
            subprocess.run(["umount", str(path)], check=False)
        if not os.path.ismount(directory):
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """One database per test here, not both (the disk is the fault, and each run takes a
    minute): PostgreSQL, as in production, when the suite has it; SQLite otherwise."""
    if not os.environ.get("TEST_POSTGRES_URL"):
        path = tmp_path / "burgernet.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def stack_db(database_url):
    db = Database(database_url, pool_size=10, max_overflow=5)
    yield db
    db.dispose()


def settings_for(settings, tmp_path, recordings_dir: Path, min_free_mb: float):
    base = bench_settings(
        settings, channels=4, cps=5, connections=1, share=SHARE, instance=tmp_path / "instance"
    )
    asterisk = base.asterisk.model_copy(update={"recordings_dir": str(recordings_dir)})
    return base.model_copy(update={"asterisk": asterisk, "recording_min_free_mb": min_free_mb})


def call_and_record(settings, db, tmp_path, *, centralist_hangs_up_ms: int):
    """The caller was alerted for one action, presses 1 while the offer plays, speaks 7 s after
    the record prompt, then waits for the IVR. Returns the server's outcomes and the prompt
    keys the IVR played."""
    wave = seed_callback_caller(db, CALLER)
    prerender_prompts(settings, [])
    t = callback_seconds(settings, db, wave.action_id)
    played: list[str] = []
    with (
        testbed.centralist_phone(tmp_path, hangup_after_ms=centralist_hangs_up_ms),
        AsteriskStack(settings, db) as stack,
    ):
        sounds = stack.server.runner.sounds
        name_of = sounds.sound_name

        def noting(speech):
            if speech.key:
                played.append(speech.key)
            return name_of(speech)

        sounds.sound_name = noting
        asterisk = settings.asterisk
        testbed.point_inbound_calls_at(f"{asterisk.fastagi_host}:{asterisk.fastagi_port}")
        press_s = t["until_offer"] + (t["callback_transfer_or_record"] + 4) / 2 + 0.5
        call = testbed.callback_caller(
            tmp_path,
            caller=CALLER.lstrip("+"),
            digit="1",
            digit_at_ms=int(press_s * 1000),
            speak_after_ms=int(t["callback_record"] * 1000) + 1500,
            stay_ms=centralist_hangs_up_ms + 30_000,
        )
        with call:
            exit_code = call.wait(timeout_s=150)
        assert exit_code == 0, call.log_tail()
        outcomes = dict(stack.server.outcomes)
    return wave, outcomes, played


def only_sighting(db) -> Sighting:
    with db.session() as s:
        [sighting] = s.scalars(select(Sighting)).all()
        return sighting


def test_full_asterisk_recording_directory_puts_the_caller_through_with_a_flagged_row(
    settings, stack_db, tmp_path, asterisk_testbed
):
    wait_until_no_channels()
    with tmpfs_recordings("64k", leave_free_bytes=0) as full:
        configured = settings_for(settings, tmp_path, full, min_free_mb=16)
        wave, outcomes, played = call_and_record(configured, stack_db, tmp_path, centralist_hangs_up_ms=8_000)
        leftovers = sorted(p.name for p in full.iterdir())
    assert sum(outcomes.values()) == 1 and "fallback" not in outcomes, outcomes
    assert "callback_cannot_record" in played and not SAVED & set(played), played
    assert "callback_record" not in played  # never asked to speak into a full disk
    sighting = only_sighting(stack_db)
    assert (sighting.action_id, sighting.caller_number) == (wave.action_id, CALLER)
    assert sighting.recording_status == "failed" and sighting.recording_path is None
    assert sighting.recording_error.startswith(f"no room to record: {full}: ")
    assert (sighting.transferred, sighting.transfer_result) == (True, "ANSWER")
    assert leftovers == ["filler"]
    messages = (tmp_path / "centralist.messages.log").read_text(errors="replace")
    assert "INVITE sip:centralist@" in messages


def test_asterisk_recording_directory_filling_up_mid_sighting_keeps_what_was_written(
    settings, stack_db, tmp_path, asterisk_testbed
):
    # Room for about 1.5 s of audio (8 kHz, 16 bit); the caller speaks 7 s.
    with tmpfs_recordings("128k", leave_free_bytes=24_000) as filling:
        wait_until_no_channels()
        configured = settings_for(settings, tmp_path, filling, min_free_mb=0)
        wave, outcomes, played = call_and_record(configured, stack_db, tmp_path, centralist_hangs_up_ms=8_000)
        orphans = [p for p in filling.iterdir() if p.name != "filler"]
    assert sum(outcomes.values()) == 1 and "fallback" not in outcomes, outcomes
    assert "callback_record" in played and not SAVED & set(played), played
    sighting = only_sighting(stack_db)
    assert sighting.action_id == wave.action_id
    assert sighting.recording_status in ("truncated", "failed"), sighting.recording_error
    assert sighting.recording_error
    if sighting.recording_status == "truncated":
        assert "callback_recording_partial" in played
        assert 0 < sighting.duration_s < 5
        assert (configured.recordings_dir / sighting.recording_path).is_file()
    else:
        assert "callback_recording_failed" in played
    assert orphans == []  # moved into the store, or named on the row
    assert sighting.transferred
    print(
        f"recording_status={sighting.recording_status} duration_s={sighting.duration_s} "
        f"error={sighting.recording_error!r} played={played}"
    )
