"""Every firmware unit test module also runs under the real MicroPython
interpreter, the one the vboards use, with firmware/ as the board's path."""
import os
import subprocess
from pathlib import Path

import pytest

from host_tools.vboard.board import micropython_binary

HERE = Path(__file__).resolve().parent
FIRMWARE_TESTS = HERE / "firmware"
MODULES = sorted(p.stem for p in FIRMWARE_TESTS.glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_module_passes_under_micropython(module):
    env = dict(os.environ, MICROPYPATH=f"{HERE.parent / 'firmware'}:{FIRMWARE_TESTS}:.frozen")
    run = subprocess.run([micropython_binary(), "-X", "heapsize=4m", str(FIRMWARE_TESTS / "mpy_runner.py"), module],
                         env=env, cwd=HERE.parent, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"under MicroPython:\n{run.stdout}{run.stderr}"
