"""The serial line between a host tool and the board: bytes paced at a baud
rate (10 bits a byte, as 8N1 on a UART), or passed straight when unthrottled.
"""
from __future__ import annotations

import asyncio
import os


class Line:
    """One direction of the serial line, writing into a pty master.

    `lossy` lines drop what cannot be written (a UART transmits into the void
    when nobody listens); the others hold bytes until the reader takes them.
    """

    CHUNK_SECONDS = 0.004
    FULL = 256  # bytes queued before the sender must wait, as on a UART's FIFO

    def __init__(self, fd: int, baud: int | None, lossy: bool):
        self.fd = fd
        self.rate = baud / 10 if baud else None
        self.lossy = lossy
        self.buf = bytearray()
        self.on_room = None  # called once when a full line has room again
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._drain())

    def send(self, data: bytes) -> None:
        self.buf += data
        self.wakeup.set()

    @property
    def full(self) -> bool:
        return len(self.buf) > self.FULL

    def _room(self) -> None:
        if self.on_room is not None and not self.full:
            callback, self.on_room = self.on_room, None
            callback()

    def discard(self) -> None:
        self.buf.clear()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        budget, last = 0.0, loop.time()
        while True:
            if not self.buf:
                self.wakeup.clear()
                await self.wakeup.wait()
                budget, last = 0.0, loop.time()
            n = len(self.buf)
            if self.rate:
                now = loop.time()
                budget = min(budget + (now - last) * self.rate, self.rate * self.CHUNK_SECONDS * 4)
                last = now
                # wait until the line has carried what goes out next (a short reply whole, else a
                # chunk's worth): never earlier than a UART, and no later than it either
                want = min(n, max(1.0, self.rate * self.CHUNK_SECONDS))
                if budget < want:
                    await asyncio.sleep((want - budget) / self.rate)
                    continue
                n = min(n, int(budget))
            try:
                written = os.write(self.fd, self.buf[:n])
            except BlockingIOError:
                written = 0
            except OSError:
                written = n  # the other end is gone: the bytes are lost on the wire
            if self.rate:
                budget -= written
            del self.buf[:written]
            if written < n:
                if self.lossy:
                    self.buf.clear()
                else:
                    await asyncio.sleep(0.002)
            self._room()

    def close(self) -> None:
        self.task.cancel()
