"""The rig interface: how a test acts on a board and reads it, whatever the rig.

A rig starts (or hands out) boards; each board has a serial `port`, a
`unique_id`, a `console()` and a `control()` with the rig's verbs:

    pir(on)            the PIR line            set_lux(lux)      the ambient light
    lamp_level()       the lamp's output 0..1  duty()            the same as a 16-bit duty
    power_cut()        the supply relay off    power_on()        and on again
    reset()            EN pressed              set_clock(unix)   the board's clock jumps
    status()           what the rig knows now  wait_for(pred)    poll status() until pred
    fault(kind, on)    a simulated fault       set_pin(n, v)     a strap held at boot

`capabilities` says which of these the rig really has; tests mark what they
need (hil_tests/rig/capabilities.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hil_tests.support.console import Console


@dataclass
class RigBoard:
    name: str
    port: str
    unique_id: str
    flash: Path | None = None   # the board's filesystem, where the rig can reach it
    rig: "Rig | None" = field(default=None, repr=False)

    def control(self):
        return self.rig.control_for(self)

    def console(self) -> Console:
        return self.rig.console_for(self)

    # The flash as a programmer or a flash dump sees it, where the rig reaches it.
    def read_flash(self, path: str) -> bytes:
        return self.rig.read_flash(self, path)

    def flash_files(self) -> dict[str, int]:
        return self.rig.flash_files(self)

    def rewrite_flash(self, files: dict[str, bytes | str | None]) -> None:
        """Power off, write (None removes), power on."""
        self.rig.rewrite_flash(self, files)


class Rig:
    target = "?"
    capabilities: frozenset[str] = frozenset()

    def start(self, name="vb", count=1, board_type="esp32-devkitc", heap=None, baud=None, timeout=60.0,
              extra=(), romfs: bytes | None = b"") -> list[RigBoard]:
        """`heap` and `romfs` shape a virtual board's firmware; a real one runs what it was flashed with."""
        raise NotImplementedError

    def control_for(self, board: RigBoard):
        raise NotImplementedError

    def console_for(self, board: RigBoard) -> Console:
        raise NotImplementedError

    def read_flash(self, board: RigBoard, path: str) -> bytes:
        raise NotImplementedError(f"the {self.target} rig cannot read a board's flash")

    def flash_files(self, board: RigBoard) -> dict[str, int]:
        raise NotImplementedError(f"the {self.target} rig cannot read a board's flash")

    def rewrite_flash(self, board: RigBoard, files: dict[str, bytes | str | None]) -> None:
        raise NotImplementedError(f"the {self.target} rig cannot write a board's flash")

    def console_logs(self) -> dict[str, str]:
        """Each board's console since the test began, for a failure report."""
        return {}

    def stop(self) -> None:
        pass
