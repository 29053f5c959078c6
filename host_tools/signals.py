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
import os
import select
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


class StopEvent:
    """threading.Event's is_set/wait/set for a stop request, safe to set from a signal handler.

    Event.set takes the lock a main thread waiting in Event.wait may hold at that very
    moment; from a signal handler (which runs in that thread) that is a deadlock. This
    one is a flag and a pipe: set() only writes a byte, wait() selects on the pipe."""

    def __init__(self):
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._set = False

    def set(self) -> None:
        self._set = True
        try:
            os.write(self._write, b"!")
        except BlockingIOError:       # the pipe is full of earlier requests: already woken
            pass

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            select.select([self._read], [], [], timeout)
        return self._set


def stop_event(signals=(signal.SIGINT, *STOP_SIGNALS)) -> StopEvent:
    """For a tool whose main thread waits in a loop: set by Ctrl-C, SIGTERM or SIGHUP.

        stop = stop_event()
        while not stop.wait(every):
            ...
    """
    stop = StopEvent()
    for s in signals:
        signal.signal(s, lambda *_: stop.set())
    return stop
