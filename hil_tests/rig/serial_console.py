"""A board's console read from its serial port by the rig, between the tools
that need the port (mpremote, `pilotlight provision`): it lets go while they
have it. What it reads is kept for `expect()` and the failure report, and the
ESP32 ROM's boot banner (`rst:0x...`) tells the rig each boot and its cause."""
from __future__ import annotations

import re
import threading
import time

import serial

from hil_tests.support import console

KEEP = 256 * 1024
BANNER = re.compile(rb"rst:(0x[0-9a-f]+) \((\w+)\)")
# the ROM's cause -> machine.reset_cause() (an EN press reports POWERON on an ESP32)
CAUSES = {b"POWERON_RESET": 2, b"TG0WDT_SYS_RESET": 3, b"RTCWDT_RTC_RESET": 3, b"DEEPSLEEP_RESET": 4,
          b"SW_CPU_RESET": 5}


class SerialConsole(console.Holder):
    def __init__(self, port: str, baud: int = 115200):
        self.port = port
        self.baud = baud
        self.log = bytearray()
        self.total = 0
        self.boots: list[tuple[float, int]] = []   # (monotonic time, reset cause) of each banner seen
        self._lock = threading.Lock()
        self._line: serial.Serial | None = None
        self._paused = 0
        self._stop = threading.Event()
        self._open()
        self._thread = threading.Thread(target=self._pump, name=f"console {port}", daemon=True)
        self._thread.start()
        console.hold(port, self)

    def read(self, since: int) -> tuple[str, int]:
        with self._lock:
            since = max(since, self.total - len(self.log))
            start = len(self.log) - (self.total - since)
            return bytes(self.log[start:]).decode("utf-8", "replace"), self.total

    def pause(self) -> None:
        with self._lock:
            self._paused += 1
            line, self._line = self._line, None
        if line is not None:
            line.close()

    def resume(self) -> None:
        with self._lock:
            self._paused -= 1
            if self._paused:
                return
        self._open()

    def close(self) -> None:
        console.let_go(self.port)
        self._stop.set()
        self._thread.join(2)
        self.pause()

    def _open(self) -> None:
        try:
            line = serial.Serial(self.port, self.baud, timeout=0.05, exclusive=True)
        except (serial.SerialException, OSError):
            return  # the board's port is gone (power cut on a USB-powered board): tried again on the next read
        with self._lock:
            if self._line is None and not self._paused:
                self._line = line
                return
        line.close()

    def _pump(self) -> None:
        tail = b""
        while not self._stop.is_set():
            line = self._line
            if line is None:
                if not self._paused:
                    self._open()
                time.sleep(0.05)
                continue
            try:
                data = line.read(4096)
            except (serial.SerialException, OSError, TypeError, AttributeError):
                time.sleep(0.02)  # closed under us by pause(): the tool has the port now
                continue
            if not data:
                continue
            window = tail + data
            now = time.monotonic()
            with self._lock:
                for m in BANNER.finditer(window):
                    if m.end() > len(tail):  # not counted with the bytes before
                        self.boots.append((now, CAUSES.get(m.group(2), 0)))
                self.log += data
                del self.log[:-KEEP]
                self.total += len(data)
            tail = window[-64:]
