"""The lamp's brain under the board's interpreter (MicroPython, heap limited
to the 96 KB the firmware must run in): what the control modules hold in RAM,
and what one evaluation of the dimming program costs."""
import json
import os
import subprocess
from pathlib import Path

from host_tools.vboard.board import micropython_binary

REPO = Path(__file__).resolve().parents[1]
CALLS = 400

# A realistic program: a weeknight and a weekend program, a holiday override.
PROGRAM = {
    "id": "bench",
    "programs": {
        "weeknight": {"steps": [{"at": "sunset", "level": 100, "fade": 60}, {"at": "22:30", "level": 70, "fade": 600},
                                {"at": "00:30", "level": 40, "fade": 900}, {"at": "min(05:30, dawn)", "level": 70},
                                {"at": "sunrise+10m", "level": 0, "fade": 120}]},
        "weekend": {"steps": [{"at": "sunset", "level": 100}, {"at": "01:30", "level": 50, "fade": 600},
                              {"at": "sunrise", "level": 0}]},
        "festive": {"steps": [{"at": "dusk-20m", "level": 100}, {"at": "sunrise", "level": 0}]},
    },
    "default": "weeknight",
    "calendar": [{"program": "festive", "from": "12-20", "to": "01-06"},
                 {"program": "weekend", "days": ["fri", "sat"]}],
}

SCRIPT = """
import gc, time
gc.collect()
before = gc.mem_alloc()
from lampctl import solar, tz, program, presence, arbiter
zone = tz.TZ("CET-1CEST,M3.5.0,M10.5.0/3")
ev = program.Evaluator(program.Program(%(doc)s), zone, 52.52, 13.405)
ev.level(%(t0)d)
gc.collect()
print("ram", gc.mem_alloc() - before)
n = %(calls)d
start = time.ticks_us()
for i in range(n):  # a different night each call: the worst case, steps resolved anew
    ev.level(%(t0)d + i * 86400 + 7919 * i %% 86400)
print("cold", time.ticks_diff(time.ticks_us(), start) / n)
t = %(t0)d
start = time.ticks_us()
for i in range(n):  # through one night: the steady state, the night's steps cached
    ev.level(t + i * 97)
print("warm", time.ticks_diff(time.ticks_us(), start) / n)
"""


def run():
    code = SCRIPT % {"doc": json.dumps(PROGRAM).replace("null", "None"), "t0": 1798750800, "calls": CALLS}
    env = dict(os.environ, MICROPYPATH=str(REPO / "firmware"))
    out = subprocess.run([micropython_binary(), "-X", "heapsize=96k", "-c", code], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise RuntimeError("micropython failed: " + out.stderr.strip()[-500:])
    return {k: float(v) for k, v in (line.split() for line in out.stdout.split("\n") if line.strip())}


def measure():
    figures = run()
    yield ("control modules RAM", int(figures["ram"]), "bytes")
    yield ("evaluator cost per call", figures["cold"], "us")
    yield ("evaluator cost per call, same night", figures["warm"], "us")


if __name__ == "__main__":
    for name, value, unit in measure():
        print(f"{name}: {value} {unit}")
