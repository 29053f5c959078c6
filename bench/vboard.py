"""Issue 2 figures: vboard start-to-REPL, mpremote fs cp at 115200 baud vs the
line's limit, idle CPU and RSS per vboard."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import serial

from hil_tests.rig.virtual import VirtualRig

BAUD = 115200
IDLE_BOARDS = 10


def _start_to_repl(board) -> float:
    with serial.Serial(board.port, BAUD, timeout=0.01) as line, board.control() as c:
        c.power_cut()
        line.reset_input_buffer()
        t0 = time.perf_counter()
        c.power_on()
        got = b""
        while b">>> " not in got:
            line.write(b"\r")
            got += line.read(256)
            if time.perf_counter() - t0 > 20:
                raise TimeoutError("no REPL prompt")
        return time.perf_counter() - t0


def _cp_throughput(board, tmp: Path, size: int = 8192) -> float:
    # fresh random content each time: mpremote skips a file the board already has
    def cp():
        src = tmp / "blob.bin"
        src.write_bytes(os.urandom(size))
        subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "resume", "fs", "cp", str(src),
                        ":blob.bin"], check=True, capture_output=True)
    cp()  # warm the page cache and the interpreter's imports
    t0 = time.perf_counter()
    cp()
    return size / (time.perf_counter() - t0)


def _proc_cpu_rss(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss_pages = int(fields[21])
    return ticks / os.sysconf("SC_CLK_TCK"), rss_pages * os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(c) for c in f.read().split()]
    return kids


def measure():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rig = VirtualRig(tmp / "home")
        try:
            (board,) = rig.start("bench")
            times = sorted(_start_to_repl(board) for _ in range(5))
            yield "vboard start-to-REPL time", times[2] * 1000, "ms"

            (slow,) = rig.start("slow", baud=BAUD)
            rate = _cp_throughput(slow, tmp)
            yield "mpremote fs cp throughput at 115200 baud", rate, "B/s"
            yield "mpremote fs cp throughput vs line limit", rate / (BAUD / 10), "ratio"

            rig.start("idle", count=IDLE_BOARDS)
            time.sleep(2)
            sup = rig.procs[-1].pid
            pids = [sup] + _children(sup)
            before = {p: _proc_cpu_rss(p) for p in pids}
            time.sleep(5)
            after = {p: _proc_cpu_rss(p) for p in pids}
            cpu = sum(after[p][0] - before[p][0] for p in pids) / 5
            yield "idle CPU per vboard", 100 * cpu / IDLE_BOARDS, "%"
            yield "RSS per vboard", sum(after[p][1] for p in pids) / IDLE_BOARDS / 2**20, "MiB"
        finally:
            rig.stop()
