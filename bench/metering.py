"""Issue 6 figures: heap held by the sensor drivers, metering and diagnostics
(their modules, compiled to .mpy as on a board, and their objects for the
esp32-devkitc board) on the vboard's ESP32-shaped MicroPython interpreter;
heap a power-monitor read allocates; and, for each board type's lamp, flash
writes per simulated day under the metering's save policy, with the most
energy a power cut can lose.
The end-to-end figures (metered vs. real energy of a night, loss at a power
cut) come from hil_tests/test_metering_diagnostics.py, which prints them."""
import os
import subprocess
import tempfile
from pathlib import Path

from host_tools.boards import load_board_type
from host_tools.firmware_build import build_app
from host_tools.paths import firmware_module
from host_tools.vboard.board import micropython_binary

# Runs on MicroPython. Everything the measurement itself needs exists before `base`.
HEAP_SCRIPT = """
import gc, json
BOARD = json.loads(%r)

class Bus:
    # Registers of an INA219 reading 24 V and 2000 current LSBs; allocates nothing.
    def __init__(self):
        self.regs = {2: 6000 << 3 | 2, 3: 2400, 4: 2000}
    def readfrom_mem_into(self, addr, reg, buf):
        v = self.regs.get(reg, 0)
        buf[0] = v >> 8
        buf[1] = v & 0xFF
    def writeto_mem(self, addr, reg, buf):
        self.regs[reg] = buf[0] << 8 | buf[1]

bus = Bus()
import lampctl.board_config, lampctl.store  # the app holds these anyway
gc.collect()
base = gc.mem_alloc()
from lampctl import sensors, metering, diagnostics
s = sensors.Sensors(bus, BOARD["sensors"])
m = metering.Meter(BOARD["lamp"])
d = diagnostics.Diagnostics(BOARD["lamp"])
gc.collect()
held = gc.mem_alloc() - base
ina = s.power.driver
ina.start()
ina.read()
gc.collect()
before = gc.mem_alloc()
for _ in range(1000):
    ina.read()
print("=>", held, gc.mem_alloc() - before)
"""
SAMPLE_MS = 1000


def _heap(board: dict) -> tuple[int, int]:
    import json
    with tempfile.TemporaryDirectory() as tmp:
        build_app(Path(tmp))   # the app's package, compiled, importable from MICROPYPATH
        run = subprocess.run([micropython_binary(), "-X", "heapsize=1m", "-c", HEAP_SCRIPT % json.dumps(board)],
                             env=dict(os.environ, MICROPYPATH=tmp), capture_output=True, text=True, timeout=120)
    line = [x for x in run.stdout.splitlines() if x.startswith("=>")]
    if run.returncode or not line:
        raise RuntimeError(f"heap measurement failed: {run.stdout}{run.stderr}")
    held, reads = line[-1].split()[1:]
    return int(held), int(reads)


def _level(t_ms: int) -> int:
    """A street's night: 80 % at dusk, 40 % after 23:00 with a presence boost to
    100 % for a minute every 20 minutes, 80 % from 05:00, off from 06:00 to 18:00."""
    minute = t_ms // 60000
    hour = minute // 60
    if 6 <= hour < 18:
        return 0
    if hour >= 23 or hour < 5:
        return 100 if minute % 20 == 0 else 40
    return 80


def _simulated_day(lamp: dict) -> tuple[int, float]:
    """(flash writes, most energy unsaved at any moment) over 24 h of 1 s samples."""
    metering = firmware_module("metering")
    meter = metering.Meter(lamp)
    writes, worst = 0, 0.0
    for t in range(0, 24 * 3600 * 1000, SAMPLE_MS):
        level = _level(t)
        meter.sample(t, level, metering.expected_power_w(level, lamp))
        worst = max(worst, meter.unsaved_wh())
        if meter.save_due(t):
            meter.saved(t)
            writes += 1
    return writes, worst


def measure():
    board = load_board_type("esp32-devkitc")
    held, reads = _heap(board)
    yield "drivers and metering heap", held, "bytes"
    yield "power monitor heap allocated by 1000 reads", reads, "bytes"
    metering = firmware_module("metering")
    writes, worst = _simulated_day(board["lamp"])
    yield "flash writes per simulated day", writes, "writes"
    yield "flash writes per day, most", metering.WRITES_PER_DAY_MAX, "writes"
    yield "energy unsaved at worst in the simulated day (60 W lamp)", worst, "Wh"
    yield "energy a power cut can lose, bound (60 W lamp)", metering.max_loss_wh(board["lamp"], SAMPLE_MS), "Wh"
    big = load_board_type("olimex-esp32-poe")["lamp"]
    writes, worst = _simulated_day(big)
    watts = "%g W lamp" % big["rated_power_w"]
    yield "flash writes per simulated day (%s)" % watts, writes, "writes"
    yield "energy unsaved at worst in the simulated day (%s)" % watts, worst, "Wh"
    yield "energy a power cut can lose, bound (%s)" % watts, metering.max_loss_wh(big, SAMPLE_MS), "Wh"
