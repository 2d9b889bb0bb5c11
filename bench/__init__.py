"""Benchmarks: `burgernet bench NAME`, each printing one JSON line last.

They run from a source checkout: the rigs some of them drive (the Asterisk testbed, a fake AGI
peer) live in tests/support, which is therefore put on the import path here.
"""

from __future__ import annotations

import sys

from config.settings import PROJECT_ROOT

if (PROJECT_ROOT / "tests" / "support").is_dir() and str(PROJECT_ROOT) not in sys.path:
    sys.path.append(str(PROJECT_ROOT))
