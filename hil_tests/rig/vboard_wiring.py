"""The rig's chips simulated at register level and wired to vboards, so the
serial target runs in CI exactly as on a bench: the suite drives the rig
through the same Adafruit drivers over a simulated I2C bus, and each chip
line acts on the vboard behind a port (its PIR pin, EN, supply, BOOT strap,
the light its sensor sees); the ADS1115 reads the lamp's PWM as the RC filter
would pass it (duty × 3.3 V)."""
from __future__ import annotations

from pathlib import Path

from hil_tests.rig.hardware import BOOT, EN, LIGHT_DIM, LIGHT_SUN, PIR, SUPPLY, RigError
from hil_tests.rig.sim_i2c import ADS1115, MCP23017, SimI2C
from host_tools.vboard.control import ControlError, VBoardClient

LUX = {(False, False): 2.0, (True, False): 200.0, (False, True): 20000.0, (True, True): 20000.0}
V_PWM = 3.3


def vboard_behind(port: str) -> VBoardClient:
    """The control channel of the vboard whose port is `port` (<home>/vboards/<name>/tty)."""
    path = Path(port)
    try:
        return VBoardClient(path.parent.name, path.parent.parent.parent)
    except ControlError as e:
        raise RigError(f"--rig-i2c vboard: {port} is not the port of a running vboard ({e})") from None


class VBoardWiring:
    """A SimI2C whose MCP23017s and ADS1115s are wired to the vboards on `ports`."""

    def __init__(self, ports: list[str]):
        self.boards = [vboard_behind(p) for p in ports]
        self.bus = SimI2C()
        self.light = {slot: [False, False] for slot in range(len(ports))}
        self.en_held = [False] * len(ports)
        for i in range((len(ports) + 1) // 2):
            self.bus.attach(0x20 + i, MCP23017(on_output=lambda pin, v, i=i: self._line(2 * i + pin // 8, pin % 8, v)))
        for i in range((len(ports) + 3) // 4):
            self.bus.attach(0x48 + i, ADS1115(lambda ch, i=i: self._volts(4 * i + ch)))

    def _line(self, slot: int, line: int, high: bool) -> None:
        if slot >= len(self.boards):
            return
        board = self.boards[slot]
        if line == PIR:
            board.pir(high)
        elif line == EN:
            if self.en_held[slot] and not high:
                board.reset()  # the chip starts when EN is released
            self.en_held[slot] = high
        elif line == SUPPLY:
            board.power_on() if high else board.power_cut()
        elif line == BOOT:
            board.set_pin(0, not high)  # held: GPIO0 pulled low
        elif line in (LIGHT_DIM, LIGHT_SUN):
            self.light[slot][line == LIGHT_SUN] = high
            board.set_lux(LUX[tuple(self.light[slot])])

    def _volts(self, slot: int) -> float:
        if slot >= len(self.boards):
            return 0.0
        duty = self.boards[slot].duty()
        return (duty or 0) / 65535 * V_PWM

    def close(self) -> None:
        for b in self.boards:
            b.close()
