"""The simulated hardware of one vboard: GPIOs, PWM, ADC, the I2C bus and the
lamp on the end of the driver output. No process logic here: the supervisor
(board.py) calls it for the firmware's bus requests and the rig's control ops.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .i2c_devices import I2CDevice, Physics, make_device

ENODEV = 19


@dataclass
class PwmOutput:
    freq: int
    duty_u16: int


@dataclass
class Hardware:
    board: dict
    physics: Physics = field(default_factory=Physics)
    levels: dict[int, int] = field(default_factory=dict)     # GPIO levels
    irqs: dict[int, int] = field(default_factory=dict)       # GPIO -> trigger mask
    pwm: dict[int, PwmOutput] = field(default_factory=dict)
    adc: dict[int, int] = field(default_factory=dict)        # raw u16
    devices: dict[int, I2CDevice] = field(default_factory=dict)
    lamp_failed: bool = False
    driver_fault: bool = False   # the driver ignores its input: full power whatever the duty
    supplied: bool = True        # the pole's mains: a power cut darkens the lamp too
    chip_temp_c: float = 45.0
    # The real energy the lamp drew (J), integrated exactly: power only changes here.
    energy_j: float = 0.0
    _power_since: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        lamp = self.board["lamp"]
        self.physics.supply_v = lamp["supply_v"]
        for spec in self.board.get("sensors") or []:
            self.devices[spec["address"]] = make_device(spec, self.physics)
        if self.board.get("safe_mode_pull") == "external" and self.board.get("safe_mode_pin") is not None:
            self.levels[self.board["safe_mode_pin"]] = 1  # the carrier's pull-up resistor, button released
        i2c = self.board.get("i2c") or {}
        self.i2c_bus = f"{i2c.get('sda')}:{i2c.get('scl')}"
        self.update_lamp()

    # --- the lamp on the driver output -------------------------------------
    def lamp_level(self) -> float:
        """What the driver is told, 0..1, after the output's inversion."""
        lamp = self.board["lamp"]
        out = self.pwm.get(lamp["pin"])
        duty = out.duty_u16 / 65535 if out else 0.0
        return 1.0 - duty if lamp["invert"] else duty

    def update_lamp(self) -> None:
        lamp = self.board["lamp"]
        level = 1.0 if self.driver_fault else self.lamp_level()
        self.lamp_energy_wh()  # close the integral at the old power
        if not self.supplied:
            self.physics.lamp_power_w = 0.0
        elif self.lamp_failed or level <= 0:
            self.physics.lamp_power_w = lamp["standby_power_w"]
        else:
            span = lamp["rated_power_w"] - lamp["standby_power_w"]
            self.physics.lamp_power_w = lamp["standby_power_w"] + span * level

    def lamp_energy_wh(self) -> float:
        """What the lamp has really drawn since the supervisor started (Wh)."""
        now = time.monotonic()
        self.energy_j += self.physics.lamp_power_w * (now - self._power_since)
        self._power_since = now
        return self.energy_j / 3600

    def advance(self, seconds: float) -> None:
        """Time skipped ahead (time_skip.py): the lamp drew its power all through it."""
        self.energy_j += self.physics.lamp_power_w * seconds

    def chip_reset(self) -> None:
        """A reset of the ESP32 (EN, watchdog, power): its outputs let go, so
        the driver sees no PWM and the lamp goes dark until the firmware drives it."""
        self.pwm.clear()
        self.irqs.clear()
        self.update_lamp()

    def set_supply(self, on: bool) -> None:
        self.supplied = on
        if not on:
            self.chip_reset()
        self.update_lamp()

    # --- firmware side ------------------------------------------------------
    def set_pwm(self, pin: int, freq: int, duty_u16: int) -> None:
        self.pwm[pin] = PwmOutput(freq, duty_u16)
        self.update_lamp()

    def edge(self, pin: int, value: int) -> bool:
        """Set an input level; True when the firmware's irq must fire."""
        old = self.levels.get(pin, 0)
        self.levels[pin] = value
        trigger = self.irqs.get(pin, 0)
        rising, falling = trigger & 1, trigger & 2
        return old != value and bool((value and rising) or (not value and falling))

    def phy_answers(self, phy_type: int, phy_addr: int, mdc: int, mdio: int, power: int, clk_mode: str,
                    clk_pin: int) -> bool:
        """Whether the carrier's Ethernet PHY comes up as network.LAN was told to
        drive it: powered, clocked, on its MDIO address and pins. Anything else
        is what a real board shows: esp_eth_driver_install fails."""
        eth = self.board.get("ethernet")
        if not eth:
            return False
        phys = ("LAN8710", "LAN8720", "IP101", "RTL8201", "DP83848", "KSZ8041", "KSZ8081")
        same_driver = {"LAN8710": "LAN8720"}  # one lan87xx driver for both
        told = phys[phy_type] if 0 <= phy_type < len(phys) else "?"
        if same_driver.get(told, told) != same_driver.get(eth["phy"], eth["phy"]):
            return False
        if (phy_addr, mdc, mdio) != (eth["phy_addr"], eth["mdc"], eth["mdio"]):
            return False
        if eth.get("power_pin") is not None and power != eth["power_pin"]:
            return False  # the PHY is not powered: it never answers on MDIO
        want_clk = (eth.get("ref_clk_mode", "in"), eth.get("ref_clk_pin", 0))
        return (clk_mode, clk_pin) == want_clk

    def i2c_scan(self, bus: str) -> list[int]:
        if bus != self.i2c_bus:
            return []
        return sorted(a for a, d in self.devices.items() if not d.gone)

    def i2c(self, bus: str, addr: int, data: bytes, nread: int) -> bytes:
        dev = self.devices.get(addr) if bus == self.i2c_bus else None
        if dev is None or dev.gone:
            raise OSError(ENODEV, "no ACK")
        if data:
            dev.write(data)
        return dev.answer(nread) if nread else b""
