"""The real rig: boards on USB serial ports named with --port. Stimuli that
need the rig's I2C bridge (PIR lines, the light sensor, duty read-back) are
not reachable from here, so tests that need them are skipped on this target."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SerialBoard:
    name: str
    port: str

    def control(self):
        raise NotImplementedError("a real board has no control channel; this test needs --target virtual")


class SerialRig:
    def __init__(self, ports: list[str]):
        if not ports:
            raise ValueError("--target serial needs at least one --port /dev/serial/by-path/...")
        self.ports = ports

    def boards(self) -> list[SerialBoard]:
        return [SerialBoard(f"board{i}", p) for i, p in enumerate(self.ports)]
