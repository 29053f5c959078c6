"""The serial target: boards on the serial ports named with --port, acted on
through the rig named with --rig-i2c:

- `ft232h` / `mcp2221`: the real rig, a USB-I2C bridge (Blinka) driving the
  MCP23017s and ADS1115s wired as in docs/rig.md;
- `vboard`: the same drivers over simulated chips wired to the vboards behind
  the ports (CI runs the serial target this way);
- none: the serial line only; everything that needs the rig is skipped.

Each test gets the boards it asks for from the ports in order, power-cycled
(RTC lost, a fresh boot) with every line of the rig at rest."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from hil_tests.rig.base import Rig, RigBoard
from hil_tests.rig.hardware import RigError, RigHardware, blinka_i2c, load_calibration
from hil_tests.rig.serial_console import SerialConsole
from hil_tests.support.console import Console
from host_tools.provision.session import NoAnswer

HARDWARE = frozenset({"pir", "light", "power_cut", "reset", "lamp_readback", "boot_button"})
# Behind the vboard wiring the rig's time source is the vboard's: it serves as
# the NTP server the suite controls, so clock jumps work there too.
WITH_VBOARD = HARDWARE | {"clock_jump"}
POWER_OFF_S = 0.5   # the supply relay held open: long enough to empty the board's capacitors


class SerialRig(Rig):
    target = "serial"

    @classmethod
    def capabilities_for(cls, adapter: str | None) -> frozenset[str]:
        return {None: frozenset(), "vboard": WITH_VBOARD}.get(adapter, HARDWARE)

    def __init__(self, ports: list[str], adapter: str | None, tmp: Path, calibration: Path | None = None):
        if not ports:
            raise pytest.UsageError("--target serial needs at least one --port /dev/serial/by-path/...")
        self.ports = list(ports)
        self.adapter = adapter
        self.capabilities = self.capabilities_for(adapter)
        self.wiring = None
        self.hw = None
        if adapter == "vboard":
            from hil_tests.rig.vboard_wiring import VBoardWiring
            self.wiring = VBoardWiring(self.ports)
            self.hw = RigHardware(self.wiring.bus, len(self.ports))
        elif adapter:
            self.hw = RigHardware(blinka_i2c(adapter), len(self.ports), load_calibration(calibration, len(self.ports)))
        self.handed: list[RigBoard] = []
        self.consoles: dict[str, SerialConsole] = {}

    def start(self, name="vb", count=1, board_type="esp32-devkitc", heap=None, baud=None, timeout=60.0,
              extra=(), romfs: bytes | None = b"") -> list[RigBoard]:
        first = len(self.handed)
        if first + count > len(self.ports):
            pytest.skip(f"needs {first + count} board(s); the rig has {len(self.ports)} (--port)")
        boards = []
        for slot in range(first, first + count):
            port = self.ports[slot]
            try:
                uid = _factory_fresh(port)
            except NoAnswer:
                if not self.hw:
                    raise
                # What the bench operator would do, said in the run's output: the board
                # the last test left hung gets its supply cycled, then the same steps again.
                print(f"rig: the board on {port} did not answer; its supply cycled before the test")
                self.hw.supply(slot, False)
                time.sleep(POWER_OFF_S)
                self.hw.supply(slot, True)
                uid = _factory_fresh(port)
            board = RigBoard(f"{name}{slot:02d}" if count > 1 else name, port, uid, None, self)
            board.slot = slot
            if self.hw:  # power-cycled: the RTC lost, a fresh boot
                self.hw.supply(slot, False)
                time.sleep(POWER_OFF_S)
                self.hw.supply(slot, True)
            self.consoles[board.name] = SerialConsole(port)
            boards.append(board)
        self.handed += boards
        return boards

    def control_for(self, board: RigBoard) -> "SerialControl":
        return SerialControl(self, board)

    def console_for(self, board: RigBoard) -> Console:
        return Console(board.name, self.consoles[board.name].read)

    def console_logs(self) -> dict[str, str]:
        return {name: c.read(0)[0] for name, c in self.consoles.items()}

    def stop(self) -> None:
        for c in self.consoles.values():
            c.close()
        self.consoles.clear()
        if self.wiring:
            self.wiring.close()


# Everything off the board's filesystem: what a test finds is a board as it left the factory.
# /rom is the firmware's ROMFS partition, mounted there: read-only, and the
# loader's copy of an app slot, which it makes again when the slot differs.
WIPE = """import os
def _rm(d):
    for name, kind, *_ in os.ilistdir(d):
        p = d + '/' + name if d != '/' else '/' + name
        if p == '/rom':
            continue
        if kind == 0x4000:
            _rm(p)
            os.rmdir(p)
        else:
            os.remove(p)
_rm('/')
"""


def _factory_fresh(port: str) -> str:
    """Stop whatever the board runs (the provisioning tool's own way: the
    maintenance flag and a reset, so no watchdog strikes), wipe its flash;
    its chip id."""
    from hil_tests.support.console import released
    from host_tools.provision.session import Session
    with released(port), Session(port) as session:
        session.enter_maintenance()
        chip = session.chip_id()
        session.exec(WIPE, timeout=20)
    return chip


class SerialControl:
    """The rig's verbs for one board on the serial target."""

    def __init__(self, rig: SerialRig, board: RigBoard):
        self.rig, self.board, self.slot = rig, board, board.slot
        self.name = board.name
        self.powered = True

    def _hw(self) -> RigHardware:
        if self.rig.hw is None:
            raise RigError("no rig on this target (--rig-i2c): the test should have been skipped")
        return self.rig.hw

    def pir(self, value: bool) -> None:
        self._hw().pir(self.slot, value)

    def set_lux(self, lux: float) -> None:
        self._hw().light(self.slot, lux)

    def set_pin(self, pin: int, value: bool) -> None:
        if pin != 0:
            raise RigError(f"the rig drives GPIO0 (BOOT) only, not GPIO{pin}")
        self._hw().hold_boot(self.slot, not value)

    def lamp_level(self) -> float:
        return self._hw().lamp_level(self.slot)

    def duty(self) -> int:
        return round(self.lamp_level() * 65535)

    def power_cut(self) -> None:
        self._hw().supply(self.slot, False)
        self.powered = False

    def power_on(self) -> None:
        with self._booting():
            self._hw().supply(self.slot, True)
        self.powered = True

    def reset(self) -> None:
        with self._booting():
            self._hw().press_en(self.slot)

    @contextlib.contextmanager
    def _booting(self, timeout: float = 5.0):
        """Back once the console shows the ROM's banner of the new boot, as the
        virtual rig's reset returns with the board already restarted."""
        console = self.rig.consoles[self.name]
        before = len(console.boots)
        yield
        deadline = time.monotonic() + timeout
        while len(console.boots) == before and time.monotonic() < deadline:
            time.sleep(0.02)

    def set_clock(self, unix: float, rtc_only: bool = False) -> None:
        if self.rig.wiring is None:
            raise RigError("this rig cannot set a board's clock (needs_clock_jump)")
        self.rig.wiring.boards[self.slot].set_clock(unix, rtc_only)

    def clock(self) -> float:
        if self.rig.wiring is None:
            raise RigError("this rig does not know the board's clock")
        return self.rig.wiring.boards[self.slot].clock()

    def status(self) -> dict:
        """What the rig sees: the lamp's output, and each boot from the console's ROM banner."""
        boots = self.rig.consoles[self.name].boots
        last = boots[-1] if boots else (None, 0)
        st = {"lamp_level": self.lamp_level(), "powered": self.powered, "running": self.powered and bool(boots),
              "boots": len(boots), "reset_cause": last[1],
              "uptime_s": round(time.monotonic() - last[0], 3) if last[0] else 0}
        if self.rig.wiring is not None:
            st["clock"] = self.clock()
        return st

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            value = predicate(st)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {what} not reached in {timeout}s (last status {st})")
            time.sleep(interval)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
