"""Stop long-running tools the same way on SIGTERM and SIGHUP as on Ctrl-C.

A service manager stops a tool with SIGTERM and a closed terminal sends SIGHUP;
by default both end a Python process at once, without `finally` blocks or
ExitStack callbacks, so the brokers, boards and interpreters it started are left
running. Two ways to route them into the tool's Ctrl-C path:

    with stop_signals():            # blocking code: they raise Stopped (a KeyboardInterrupt)
        run_until_interrupted()

    add_stop_handlers(loop, stop.set)   # asyncio: they (and Ctrl-C) set an event

    stop = stop_event()                 # a loop that waits: `while not stop.wait(every): ...`
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from typing import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread when a stop signal arrives; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum        # the shell's convention for "ended by signal N"


@contextlib.contextmanager
def stop_signals(signals=STOP_SIGNALS):
    """Inside, SIGTERM/SIGHUP raise Stopped in the main thread; the old handlers come back after.

    Only the first one raises: a second SIGTERM while the tool is cleaning up must
    not cut the cleanup short (Ctrl-C still can, and SIGKILL always can)."""
    if threading.current_thread() is not threading.main_thread():
        yield                             # Python delivers signals to the main thread only
        return

    def handler(signum, frame):
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def add_stop_handlers(loop: asyncio.AbstractEventLoop, callback: Callable[[], None],
                      signals=(signal.SIGINT, *STOP_SIGNALS)) -> None:
    """In an asyncio loop: call `callback` (e.g. an Event's `set`) on Ctrl-C, SIGTERM or SIGHUP."""
    for s in signals:
        loop.add_signal_handler(s, callback)


def stop_event(signals=(signal.SIGINT, *STOP_SIGNALS)) -> threading.Event:
    """For a tool whose main thread waits in a loop: an Event set by Ctrl-C, SIGTERM or SIGHUP."""
    stop = threading.Event()
    for s in signals:
        signal.signal(s, lambda *_: stop.set())
    return stop
