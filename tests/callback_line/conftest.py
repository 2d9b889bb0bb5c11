"""The call-back tests reuse the IVR tests' seed rows (tests/ivr/ivr_seed.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ivr"))
