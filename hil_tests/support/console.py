"""A board's console as the tests see it, on both targets: what it printed,
and `expect()` a line to come. The virtual rig taps the vboard's UART; the
serial rig reads the port itself and lets go of it while a tool (mpremote,
`pilotlight provision`) has it."""
from __future__ import annotations

import contextlib
import re
import time
from typing import Callable

_holders: dict[str, "Holder"] = {}


class Holder:
    """Something that keeps a serial port open and must let go for a tool."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


def hold(port: str, holder: Holder) -> None:
    _holders[port] = holder


def let_go(port: str) -> None:
    _holders.pop(port, None)


@contextlib.contextmanager
def released(*ports: str):
    """The ports free for a tool to open, given back afterwards."""
    held = [_holders[p] for p in ports if p in _holders]
    for h in held:
        h.pause()
    try:
        yield
    finally:
        for h in held:
            h.resume()


class Console:
    """What one board printed, read through `read(since) -> (text, next)`."""

    def __init__(self, name: str, read: Callable[[int], tuple[str, int]], poll_s: float = 0.05):
        self.name = name
        self._read = read
        self.poll_s = poll_s
        self.start = read(0)[1]  # a test sees what the board prints from now on
        self.cursor = self.start

    def text(self) -> str:
        """Everything printed since this console was opened (as far as the tap keeps it)."""
        return self._read(self.start)[0]

    def expect(self, pattern: str | bytes, timeout: float = 10.0) -> re.Match:
        """Wait for `pattern` (a regex) in what the board prints after the last
        match; the match, or an AssertionError quoting the console's tail."""
        rx = re.compile(pattern.decode() if isinstance(pattern, bytes) else pattern)
        deadline = time.monotonic() + timeout
        seen = ""
        while True:
            text, nxt = self._read(self.cursor)
            seen += text
            self.cursor = nxt
            found = rx.search(seen)
            if found:
                self.cursor -= len(seen[found.end():].encode())
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {rx.pattern!r} on the console within {timeout}s; "
                                     f"it printed: {seen[-600:]!r}")
            time.sleep(self.poll_s)
