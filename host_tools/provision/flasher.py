"""MicroPython onto a board with esptool used as a library, through the chip's ROM
loader: detect the chip, raise the baud rate as far as the adapter holds it, erase
the whole flash (MicroPython formats its filesystem on first boot), write the
pinned image compressed, verify it by MD5, and start it.

The ROM loader (not esptool's RAM stub) is used on purpose: it is the path a
vboard's ROM reproduces, so the code that flashes real boards is the code tested
here, and the ESP32's ROM does compression, MD5 and baud changes itself."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from esptool import cmds
from esptool.util import FatalError, flash_size_bytes
from serial import SerialException

from . import download_mode, esptool_log
from .ports import Port

# What each USB-UART bridge carries reliably; a pty has no limit but its own pacing.
BRIDGE_BAUD = {"CP210x": 921600, "CH340": 921600, "CH9102": 921600, "FTDI FT232R": 921600, "FTDI FT2232": 921600,
               "FTDI FT232H": 921600, "FTDI FT231X": 921600, "vboard": 921600}
DEFAULT_BAUD = 460800
CHIP_MAGIC_ADDR = 0x40001000


class FlashError(Exception):
    """Flashing failed; the message says where."""


@dataclass
class Flashed:
    baud: int
    seconds: float
    image_bytes: int


def fastest_baud(port: Port, limit: int | None = None) -> int:
    return min(BRIDGE_BAUD.get(port.kind, DEFAULT_BAUD), limit or 10**9)


class Flasher:
    """One board's chip in download mode: `connect()` for its id, then `write(image, offset)`."""

    def __init__(self, port: Port, home: Path | None, say: Callable[[str], None],
                 progress: Callable[[str, float], None], max_baud: int | None = None):
        self.port, self.home, self.say, self.progress = port, home, say, progress
        self.max_baud = max_baud
        self.esp = None

    def connect(self) -> str:
        """Into download mode; the chip's id (its base MAC, as machine.unique_id() gives it)."""
        try:
            with esptool_log.route(self._progress):
                self.esp = download_mode.connect(self.port, self.home, self.say)
        except download_mode.NoBootloader as e:
            raise FlashError(str(e)) from None
        if self.esp.CHIP_NAME != "ESP32":
            raise FlashError(f"{self.port.path}: the chip is an {self.esp.CHIP_NAME}; this image is for an ESP32")
        return bytes(self.esp.read_mac()).hex()

    def write(self, image: bytes, offset: int) -> Flashed:
        t0 = time.monotonic()
        esp = self.esp
        try:
            with esptool_log.route(self._progress):
                baud = self._raise_baud()
                cmds.attach_flash(esp)
                size = flash_size_bytes(cmds.detect_flash_size(esp) or "4MB")
                self.progress("erase", 0.0)
                cmds.erase_region(esp, 0, size)
                cmds.write_flash(esp, [(offset, image)], compress=True)
                self.progress("verify", 0.0)
                cmds.verify_flash(esp, [(offset, image)])
                esp.run()                 # leave the loader: the chip boots what was written
        except (FatalError, SerialException, OSError) as e:
            raise FlashError(f"{self.port.path}: {e}".splitlines()[0]) from None
        finally:
            self.close()
        return Flashed(baud, time.monotonic() - t0, len(image))

    def _raise_baud(self) -> int:
        """The fastest rate the adapter holds (its bridge's table, or --flash-baud): the chip is
        asked to change, then must still answer. A rate it cannot follow leaves the chip at a
        rate we cannot reach, so there is no stepping down without another reset: say so."""
        baud = fastest_baud(self.port, self.max_baud)
        if baud <= download_mode.ROM_BAUD:
            return download_mode.ROM_BAUD
        try:
            self.esp.change_baud(baud)
            if self.esp.read_reg(CHIP_MAGIC_ADDR) == self.esp.MAGIC_VALUE:
                return baud
        except (FatalError, SerialException):
            pass
        raise FlashError(f"{self.port.path}: the chip stopped answering at {baud} baud: run again with a lower "
                         f"--flash-baud (460800, 230400)")

    def _progress(self, what: str, fraction: float) -> None:
        if what.startswith("Writing"):
            self.progress("flash", fraction)
        elif what.startswith("Verifying"):
            self.progress("verify", fraction)

    def close(self) -> None:
        if self.esp is not None:
            try:
                self.esp._port.close()
            except (SerialException, OSError):
                pass
