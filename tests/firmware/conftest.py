# Under CPython, firmware modules import as on the board: firmware/ on the path.
import sys
from pathlib import Path

FIRMWARE = str(Path(__file__).resolve().parents[2] / "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)

# MicroPython's tick clock, which CPython's time lacks (the uplink times its turns with it).
import time  # noqa: E402

if not hasattr(time, "ticks_ms"):
    time.ticks_ms = lambda: time.monotonic_ns() // 1000000 & 0x3FFFFFFF
    time.ticks_diff = lambda a, b: ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000
    time.ticks_add = lambda a, b: (a + b) & 0x3FFFFFFF
