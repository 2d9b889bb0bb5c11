"""Shared by the action tests: where the test population lives."""

from __future__ import annotations

MARKT = (52.0116, 4.3571)  # Delft's Markt
