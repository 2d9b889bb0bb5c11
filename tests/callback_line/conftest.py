"""The call-back tests reuse the IVR tests' seed rows (tests/ivr/ivr_seed.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """`mount(name, size)`: a small tmpfs of its own under tmp_path (needs root), unmounted
    when the test ends."""
    mounted = []

    def mount(name: str = "tmpfs", size: str = "64k") -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        target = tmp_path / name
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], check=True)
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], check=False)
