"""Issue 13: the HIL suite's wall time, run as `make test` runs it (parallel
workers), measured now. A failed run is a failed figure, not a number."""
from __future__ import annotations

import os
import subprocess
import sys
import time

WORKERS = os.environ.get("WORKERS", "5")   # as `make test` runs it (Makefile)


def measure():
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "hil_tests", "-q", "-n", WORKERS, "--dist", "loadgroup",
                          "-p", "no:cacheprovider"], capture_output=True, text=True)
    wall = time.monotonic() - start
    if run.returncode:
        raise RuntimeError(f"the HIL suite failed ({run.returncode}): {run.stdout.strip().splitlines()[-1:]}")
    yield "hil suite wall time", round(wall, 1), "s"
