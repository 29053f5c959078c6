"""Compressed time: jump a vboard's time ahead over hours where nothing
happens, so a pilot's month runs in minutes on the real firmware.

A jump moves the board's tick counter (the interpreter's, time_skip.c), its
RTC and the world's time (what NTP answers) together, and the lamp burns
through the skipped time at the power it had: to the firmware it is as if it
had idled through those hours. Every task whose sleep ends within the jump
runs once (a sample, a `tele`, a ping) rather than once per period, so a jump
should not cross what the run wants to see happen at its own time (a dimming
step, the end of a presence hold): jump to just before it, then over it.

`skip` returns once the board is idle again (its main thread asleep and
spending no CPU), so the next jump finds the work of this one done."""
from __future__ import annotations

import asyncio
import time

from .board import VBoardError, VirtualBoard

IDLE_WINDOW_S = 0.01          # the main thread spent under IDLE_CPU_S of CPU over this: idle
IDLE_CPU_S = 0.0003
IDLE_TIMEOUT_S = 20.0


async def skip(board: VirtualBoard, seconds: float) -> None:
    ms = round(seconds * 1000)
    if ms <= 0:
        raise VBoardError(f"skip: {seconds} s is not a jump ahead")
    if ms > 6 * 86400 * 1000:
        raise VBoardError(f"skip: {seconds} s is beyond the tick counter's range (6 days)")
    board.hw.advance(ms / 1000)
    board.clock_offset_ns += ms * 1_000_000
    board.world_offset_ns += ms * 1_000_000
    proc = board.proc
    if board.events is None or proc is None or proc.returncode is not None:
        return      # off or booting: it reads its clock from the new offsets when it starts
    board.skip_done = asyncio.get_running_loop().create_future()
    board.send_event(f"SKIP {ms} {board.clock_offset_ns}")
    try:
        await asyncio.wait_for(board.skip_done, 5)
    except asyncio.TimeoutError:
        raise VBoardError("skip: the board did not take the jump within 5 s") from None
    await until_idle(proc.pid)


async def until_idle(pid: int, timeout: float = IDLE_TIMEOUT_S) -> None:
    """Until the interpreter's main thread (the firmware's asyncio loop) sleeps
    and has spent next to no CPU over IDLE_WINDOW_S."""
    deadline = time.monotonic() + timeout
    before = _main_thread(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(IDLE_WINDOW_S)
        now = _main_thread(pid)
        if now is None or before is None:
            return      # the interpreter is gone (a reset): nothing left to wait for
        if now[0] == "S" and now[1] - before[1] < IDLE_CPU_S * 1e9:
            return
        before = now
    raise VBoardError(f"skip: the board was still busy {timeout:g} s after the jump")


def _main_thread(pid: int) -> tuple[str, int] | None:
    """(scheduler state, CPU nanoseconds) of the process's main thread."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return state, int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
