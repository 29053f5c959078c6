"""Issue 4 figures from the whole firmware on vboards and a real Mosquitto
(the bytes a lamp puts on the wire in a day: bench/wire.py):

- neighbour propagation latency p50/p99: PIR edge on lamp A (rig control
  channel) to the PWM duty change on lamp B, the next lamp on the street,
  polled over B's control channel; six lamps take turns as A (each may
  announce once every 5 s)."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hil_tests.rig.virtual import VirtualRig
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import duty_at
from hil_tests.support.street import deploy_street
from host_tools.broker.mosquitto import Mosquitto

SAMPLES = 50
BASE, BOOST = 30, 100      # the street's dimmed level and the presence boost, %


def propagation_ms(tmp: Path) -> list[float]:
    rig = VirtualRig(tmp / "home")
    samples: list[float] = []
    with Mosquitto(tmp / "broker") as broker:
        try:
            boards, controls = deploy_street(rig, tmp, broker.port, name="prop", default_level=BASE,
                                             presence_level=BOOST, presence_hold_s=1, presence_fade_in_ms=0,
                                             presence_fade_out_ms=0)
            for b in boards:
                Fleet(broker.port, f"pl/test/{b.unique_id}", client_id=f"w-{b.name}").wait_status(
                    "online", timeout=30)
            base, boost = duty_at(BASE), duty_at(BOOST)
            last_motion = [0.0] * len(controls)
            i = 0
            while len(samples) < SAMPLES:
                a = i % len(controls)
                b = a + 1 if a + 1 < len(controls) else a - 1
                i += 1
                for c in controls:  # everyone back at base: the last hold is over
                    c.wait_for(lambda s: abs(s["lamp_level"] - base / 65535) < 1e-4, timeout=5)
                time.sleep(max(0.0, last_motion[a] + 5.2 - time.monotonic()))  # A may announce again
                t0 = time.perf_counter()
                controls[a].pir(True)
                while controls[b].duty() != boost:
                    if time.perf_counter() - t0 > 5:
                        raise TimeoutError(f"lamp {b + 1} never lit after motion at lamp {a + 1}")
                samples.append((time.perf_counter() - t0) * 1000)
                last_motion[a] = time.monotonic()
                controls[a].pir(False)
        finally:
            rig.stop()
    return samples


def measure():
    with tempfile.TemporaryDirectory() as d:
        lat = sorted(propagation_ms(Path(d) / "street"))
        yield "neighbour propagation latency p50 (motion on lamp A to duty change on lamp B)", \
            statistics.median(lat), "ms"
        yield "neighbour propagation latency p99", lat[min(len(lat) - 1, int(0.99 * len(lat)))], "ms"
