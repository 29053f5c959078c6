"""Getting a board's chip into its ROM's serial loader (download mode).

Dev boards whose USB-UART drives EN and GPIO0 through the usual two-transistor
circuit (DTR/RTS) are reset into it by esptool's reset sequence. Boards without
that wiring need a person: hold BOOT, press EN, and the tool waits until the chip
answers. A vboard plays both: its control channel stands in for the wiring
(refused when it was started with --no-auto-reset)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from esptool.cmds import detect_chip
from esptool.util import FatalError
from serial import SerialException

from ..vboard.control import ControlError, VBoardClient
from .ports import Port

HOLD_BOOT = ("{port}: hold the BOOT button, press and release EN (reset), then release BOOT: "
             "waiting for the chip's bootloader")
ROM_BAUD = 115200


class NoBootloader(Exception):
    pass


def connect(port: Port, home: Path | None, say: Callable[[str], None], wait: float = 180.0):
    """An esptool loader object talking to the chip's ROM; NoBootloader when it never answers."""
    if _auto_reset(port, home):
        esp = _try(port.path, "no-reset" if port.kind == "vboard" else "default-reset", attempts=3)
        if esp:
            return esp
    say(HOLD_BOOT.format(port=port.path))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        esp = _try(port.path, "no-reset", attempts=1)
        if esp:
            return esp
        time.sleep(0.2)
    raise NoBootloader(f"{port.path}: the chip's bootloader did not answer in {wait:.0f} s: hold BOOT while "
                       f"pressing EN, and check the cable")


def _auto_reset(port: Port, home: Path | None) -> bool:
    if port.kind != "vboard":
        return True                       # esptool's DTR/RTS sequence; whether it worked shows in the sync
    from ..vboard.host import list_boards
    names = [b["name"] for b in list_boards(home) if b["port"] == port.path] if home else []
    if not names:
        return False
    try:
        with VBoardClient(names[0], home) as board:
            board.call("download_reset")
        return True
    except ControlError:
        return False


def _try(path: str, mode: str, attempts: int):
    try:
        return detect_chip(path, ROM_BAUD, mode, connect_attempts=attempts)
    except (FatalError, SerialException, OSError):
        return None
