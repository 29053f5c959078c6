"""The firmware's footprint on the vboard's ESP32-shaped interpreter, measured
with the compiled firmware on the board's flash as provisioning puts it there:
bytes the control loop allocates per tick (gc.mem_alloc() deltas with the
collector off). Shared by the HIL test and `make bench`."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from hil_tests.support.firmware import bundle_files, firmware_bundle
from hil_tests.support.lamp import render_config

# A stock image (no ROMFS) runs the app from LittleFS, its code in the heap:
# some 144 KB, which the chip's heap growth gives it while Wi-Fi and TLS leave
# room (docs/vboard.md). What the footprint figures and tests give such a board.
STOCK_IMAGE_HEAP = 160 * 1024
NIGHT = 1795818600   # 2026-11-27 23:30 CET: the program holds 40 % until sunrise
PARIS = {"lat": 48.8566, "lon": 2.3522, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"}
PROGRAM = {"id": "night", "steps": [{"at": "sunset", "level": 100, "fade": 60}, {"at": "23:00", "level": 40},
                                     {"at": "sunrise", "level": 0}]}
TICKS = 3600         # a simulated hour of one-second ticks

# Runs on the board (mpremote run): the app's controller, lamp and watchdog,
# stepped as the control task steps them, with `now` one second further each tick.
TICK_SCRIPT = """
import gc, json, time, machine
from lampctl import clock, config, store
from lampctl.control import Controller
from lampctl.events import Events
from lampctl.lamp import Lamp
cfg = config.load()
lamp = Lamp(cfg["board"]["lamp"], cfg["failsafe_level"])
state, _ = store.load()
ctl = Controller(cfg, lamp, state, Events())
ctl.restore()   # as the app does at boot: the config's program
wdt = machine.WDT(timeout=60000)
t0 = time.ticks_ms()
for i in range(30):  # settle: the first decision fades in from boot's level
    ctl.step(time.ticks_add(t0, i * 1000))
    wdt.feed()
def hour(ctl, wdt, t0, mem_alloc):
    # a function: its loop counter and locals live on the stack, not in the heap
    before = mem_alloc()
    for i in range(%(ticks)d):
        ctl.step(time.ticks_add(t0, (30 + i) * 1000))
        wdt.feed()
    return mem_alloc() - before
gc.collect()
gc.disable()
step = hour(ctl, wdt, t0, gc.mem_alloc)
before = gc.mem_alloc()
u = clock.utc()
utc = gc.mem_alloc() - before
gc.enable()
print(json.dumps({"per_tick": step / %(ticks)d, "utc_call": utc, "mode": ctl.mode, "level": lamp.level}))
"""


def control_loop_allocation(rig, tmp: Path) -> dict:
    """Per-tick allocation of the control loop's step over a simulated hour, in
    steady state at night (program level, no presence, no override)."""
    cfg = render_config(location=PARIS, program=PROGRAM)
    bundle = firmware_bundle(tmp / "fw", cfg)
    files = bundle_files(bundle)
    files["main.py"] = b"# the app is stepped by hand\n"
    (board,) = rig.start("alloc", files=files)
    with board.control() as c:
        c.set_clock(NIGHT)
    script = tmp / "ticks.py"
    script.write_text(TICK_SCRIPT % {"ticks": TICKS})
    run = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "resume", "run", str(script)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode or not run.stdout.strip():
        raise RuntimeError(f"the tick script failed on the board: {run.stdout}{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


@contextmanager
def _throwaway_rig():
    """A virtual rig in a temporary folder, for one measurement: (rig, folder)."""
    from hil_tests.rig.virtual import VirtualRig
    with tempfile.TemporaryDirectory() as tmp:
        rig = VirtualRig(Path(tmp) / "home")
        try:
            yield rig, Path(tmp)
        finally:
            rig.stop()


def measure_control_loop() -> dict:
    with _throwaway_rig() as (rig, tmp):
        return control_loop_allocation(rig, tmp)


def app_heap(rig, tmp: Path, broker_port: int, heap: int, seconds: float = 12.0, romfs: bool = False) -> dict:
    """The whole app (control, sensing, MQTT connected, uplink, commands) on a
    board of `heap` bytes: its own report of free heap after a collection
    (`heap_free`) and the lowest seen (`heap_low`), from its telemetry; or,
    where it never reports, the MemoryError its crash log holds (`oom`).
    With `romfs`, the firmware has a ROMFS partition and the loader copies the
    app's code there: imported from /rom, its bytecode runs in place; without,
    a stock image, the app runs from its LittleFS slot."""
    from hil_tests.support.fleet import Fleet
    from host_tools.vboard.board import unique_id_for
    uid = unique_id_for("app")
    cfg = render_config(device={"id": uid, "site": "bench"}, location=PARIS, program=PROGRAM, tele_interval_s=2,
                        mqtt={"host": "127.0.0.1", "port": broker_port, "keepalive_s": 60})
    bundle = firmware_bundle(tmp / "app", cfg)
    files = bundle_files(bundle)
    fleet = Fleet(broker_port, f"pl/bench/{uid}", client_id="footprint")
    try:
        (board,) = rig.start("app", heap=str(heap), files=files, romfs=b"" if romfs else None)
        with board.control() as c:
            c.set_clock(NIGHT)
        import time
        deadline = time.monotonic() + seconds
        try:
            tele = fleet.wait_json("tele", lambda d: d["ts"] is not None, timeout=30)
        except TimeoutError:
            log = board.read_flash("crash.log") if "crash.log" in board.flash_files() else b""
            if b"MemoryError" not in log:
                raise
            return {"heap": heap, "oom": log.decode(errors="replace").strip().splitlines()[-1]}
        while time.monotonic() < deadline:
            try:
                tele = fleet.wait_json("tele", lambda d: d["seq"] > tele["seq"], timeout=deadline - time.monotonic())
            except TimeoutError:
                break
        return {"heap": heap, "free": tele["heap_free"], "low": tele["heap_low"], "oom": None}
    finally:
        fleet.client.loop_stop()
        fleet.client.disconnect()


def measure_app_heap(heap: int, romfs: bool = False) -> dict:
    from host_tools.broker.mosquitto import Mosquitto
    with _throwaway_rig() as (rig, tmp):
        broker = Mosquitto(tmp / "broker").start()
        try:
            return app_heap(rig, tmp, broker.port, heap, romfs=romfs)
        finally:
            broker.stop()


# What the app's code costs in the heap: each firmware module imported in
# dependency order (its imports first, so each figure is the module's own:
# bytecode, strings, functions and classes; a figure also carries any growth
# of the interpreter's string pool that lands on it), then the app built and
# connected as app.py does (without starting its tasks), stage by stage.
MODULES_SCRIPT = """
import gc, json
costs = []
for name in %(modules)r:
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    costs.append((name, gc.mem_alloc() - before))
print(json.dumps(costs))
"""
STAGES_SCRIPT = """
import gc, json, sys
stages = []
def mark(what):
    gc.collect()
    stages.append((what, gc.mem_alloc()))
mark("interpreter")
import asyncio, machine
mark("asyncio, machine")
from lampctl import app
mark("app imported")
from lampctl import config
cfg = config.load()
client = app.network_first(cfg)
mark("mqtt client made")
cfg, ctl, sensing, events = app.build(cfg)
mark("app built (control, sensing)")
from lampctl.release import Fed
tasks = app.connect(cfg, ctl, sensing, events, Fed(machine.WDT(timeout=60000)), client)
mark("network side built (link, uplink, commands)")
print(json.dumps({"stages": stages, "modules": sorted(m for m in sys.modules if m.startswith("lampctl"))}))
"""


def firmware_modules() -> list[str]:
    """Every module of the app package, each after the firmware modules it imports at its top."""
    import ast
    from host_tools.paths import FIRMWARE
    deps = {}
    for path in sorted((FIRMWARE / "lampctl").rglob("*.py")):
        rel = path.relative_to(FIRMWARE).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        deps[name] = found
    ordered: list[str] = []

    def visit(name):
        if name in ordered:
            return
        for dep in sorted(deps[name] & deps.keys() - {name}):
            visit(dep)
        ordered.append(name)
    for name in sorted(deps):
        visit(name)
    return ordered


def _run_on(board, tmp: Path, script: str) -> object:
    path = tmp / "footprint_script.py"
    path.write_text(script)
    run = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "resume", "run", str(path)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode or not run.stdout.strip():
        raise RuntimeError(f"the footprint script failed on the board: {run.stdout}{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def app_code(rig, tmp: Path) -> dict:
    """{"modules": [(module, bytes)], "stages": [(stage, bytes allocated)], "loaded": [the
    connected app's modules]} on a board whose boot.py only selects the app slot."""
    cfg = render_config(device={"id": "footprint", "site": "bench"}, location=PARIS, program=PROGRAM,
                        mqtt={"host": "127.0.0.1", "port": 1, "keepalive_s": 60})
    bundle = firmware_bundle(tmp / "code", cfg)
    files = bundle_files(bundle)
    files["boot.py"] = b"import sys\nsys.path.insert(0, '/app/a')\n"
    files["main.py"] = b"# measured by hand\n"
    out = {}
    for key, script in (("modules", MODULES_SCRIPT % {"modules": ["asyncio", "machine", "network", "socket",
                                                                 *firmware_modules()]}),
                        ("stages", STAGES_SCRIPT)):
        # a stock image with the room it needs: the code's cost from LittleFS is what is measured
        (board,) = rig.start("code" + key[0], files=files, heap=str(STOCK_IMAGE_HEAP), romfs=None)
        got = _run_on(board, tmp, script)
        if key == "stages":
            out["loaded"] = got["modules"]
            got = got["stages"]
        out[key] = got
    return out


def measure_app_code() -> dict:
    with _throwaway_rig() as (rig, tmp):
        return app_code(rig, tmp)


# A day of the app's own flash writes at the defaults, on the board's LittleFS:
# the energy counters as the meter saves them (its 15-minute cadence over one
# sample every 10 s, lit from 18:00 to 06:00), and the controller's state at
# each of the program's changes (sunset, 23:00, sunrise). Online, so no outbox.
DAY_SCRIPT = """
from lampctl import config, store
from lampctl.metering import Meter, expected_power_w
from lampctl.ticks import ticks_add
cfg = config.load()
lamp_cfg = cfg["board"]["lamp"]
meter = Meter(lamp_cfg)
state, _ = store.load()
now = 0
for t in range(0, 86400, 10):
    hour = t // 3600
    level = 80 if hour >= 18 or hour < 6 else 0
    now = ticks_add(now, 10000)
    meter.sample(now, level, expected_power_w(level, lamp_cfg))
    if meter.save_due(now):
        meter.save(now)
    if t in (17 * 3600, 23 * 3600, 7 * 3600):
        store.save(state, 1795800000 + t)
print("day done")
"""


def flash_day(rig, tmp: Path) -> int:
    """Blocks the board's flash erases for a simulated day of the app's writes."""
    cfg = render_config(location=PARIS, program=PROGRAM)
    bundle = firmware_bundle(tmp / "fw", cfg)
    files = bundle_files(bundle)
    files["main.py"] = b"# the day is run by hand\n"
    # the app's own writes only: a stock image, so no copy into ROMFS at boot lands in the count
    (board,) = rig.start("flashday", files=files, heap=str(STOCK_IMAGE_HEAP), romfs=None)
    script = tmp / "day.py"
    script.write_text(DAY_SCRIPT)
    with board.control() as c:
        before = c.status()["flash_erases"]
        run = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "resume", "run", str(script)],
                             capture_output=True, text=True, timeout=600)
        if "day done" not in run.stdout:
            raise RuntimeError(f"the day script failed on the board: {run.stdout}{run.stderr}")
        return c.status()["flash_erases"] - before


def measure_flash_day() -> int:
    with _throwaway_rig() as (rig, tmp):
        return flash_day(rig, tmp)


if __name__ == "__main__":   # the table in docs/vboard.md: python -m hil_tests.support.footprint
    code = measure_app_code()
    loaded = set(code["loaded"])
    for name, size in sorted(code["modules"], key=lambda m: -m[1]):
        print(f"{name:28} {size:7,} {'app' if name in loaded else ''}")
    print("connected app's modules:", f"{sum(s for n, s in code['modules'] if n in loaded):,}", "bytes")
    before = 0
    for stage, alloc in code["stages"]:
        print(f"{stage:45} {alloc:7,} (+{alloc - before:,})")
        before = alloc
