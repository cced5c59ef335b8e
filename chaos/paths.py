"""Make the shared test support importable (`support.harness`, the e2e worker env).

The campaigns drive the same emulator harness and worker-process environment the test
tiers use, so a fault seen here can be reproduced as a test with the same pieces.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORT_DIRS = (ROOT / "tests", ROOT / "tests" / "e2e", ROOT / "tests" / "component" / "sync")


def install() -> None:
    for directory in SUPPORT_DIRS:
        text = str(directory)
        if text not in sys.path:
            sys.path.insert(0, text)
