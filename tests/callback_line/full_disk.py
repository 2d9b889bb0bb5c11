"""Filling a (test's own, small) filesystem."""

from __future__ import annotations

from pathlib import Path


def fill(directory: Path) -> None:
    """Write into `directory` until its filesystem has no byte left."""
    with open(directory / "filler", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\xff" * 4096)
        except OSError:
            pass
    # a last few bytes, so not even a partial block is left
    with open(directory / "filler-tail", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\xff")
        except OSError:
            pass
