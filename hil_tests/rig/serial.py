"""The serial target: boards on the serial ports named with --port, acted on
through the rig named with --rig-i2c. Without a rig, only what needs nothing
but the serial line runs; the rest is skipped with the capability it lacks."""
from __future__ import annotations

from pathlib import Path

from hil_tests.rig.base import Rig, RigBoard


class SerialRig(Rig):
    target = "serial"
    capabilities = frozenset()

    @classmethod
    def capabilities_for(cls, adapter: str | None) -> frozenset[str]:
        return cls.capabilities

    def __init__(self, ports: list[str], adapter: str | None, tmp: Path):
        if not ports:
            raise ValueError("--target serial needs at least one --port /dev/serial/by-path/...")
        self.ports = list(ports)
        self.adapter = adapter
        self.tmp = tmp
        self.handed: list[RigBoard] = []

    def start(self, name="vb", count=1, board_type="esp32-devkitc", heap=None, baud=None, timeout=60.0,
              extra=()) -> list[RigBoard]:
        raise NotImplementedError("the serial rig hands out boards from --port once its drivers land")
