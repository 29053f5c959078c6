"""Issue 3 figure: motion-to-output latency on a vboard, PIR edge to the lamp's
PWM duty change, p50/p99 over 200 triggers (two boards, 100 each). The
presence fade-in is 0 here: with a fade the duty starts moving one fade step
(20 ms) later, which would measure the fade, not the motion path."""
import tempfile
import threading
import time
from pathlib import Path

from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.lamp import render_config
from hil_tests.rig.virtual import VirtualRig

TRIGGERS_PER_BOARD = 100
NIGHT = 1795818600  # 2026-11-27 23:30 CET
SETTINGS = dict(
    location={"lat": 48.8566, "lon": 2.3522, "tz": "CET-1CEST,M3.5.0,M10.5.0/3"},
    program={"id": "bench", "steps": [{"at": "sunset", "level": 50}, {"at": "sunrise", "level": 0}]},
    presence_level=100, presence_hold_s=1, presence_fade_in_ms=0, presence_fade_out_ms=0)


def _samples(board, out: list) -> None:
    with board.control() as c:
        base = None
        while base is None or c.duty() != base:  # settle at the program's level
            base = c.duty()
            time.sleep(0.3)
        for _ in range(TRIGGERS_PER_BOARD):
            t0 = time.perf_counter()
            c.pir(True)
            while c.duty() == base:
                if time.perf_counter() - t0 > 5:
                    raise TimeoutError(f"{board.name}: motion did not move the lamp (duty {base})")
            out.append((time.perf_counter() - t0) * 1000)
            c.pir(False)
            while c.duty() != base:  # the hold ends, the lamp drops back
                if time.perf_counter() - t0 > 10:
                    raise TimeoutError(f"{board.name}: the lamp did not drop back (duty {c.duty()} vs {base})")
                time.sleep(0.01)


def measure():
    with tempfile.TemporaryDirectory() as tmp:
        rig = VirtualRig(Path(tmp) / "home")
        try:
            boards = rig.start("lat", count=2)
            for i, b in enumerate(boards):
                deploy_firmware(b.port, Path(tmp) / str(i), render_config(**SETTINGS))
                with b.control() as c:
                    c.set_clock(NIGHT)
                    c.set_lux(2.0)  # dark: motion may raise the lamp
                    c.reset()
            time.sleep(3)
            results: list[float] = []
            threads = [threading.Thread(target=_samples, args=(b, results)) for b in boards]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results.sort()
            yield "motion-to-output latency p50", results[len(results) // 2], "ms"
            yield "motion-to-output latency p99", results[int(len(results) * 0.99) - 1], "ms"
        finally:
            rig.stop()
