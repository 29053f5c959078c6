"""Simulated I2C chips at register level, as the firmware's drivers see them.

Each device answers bus transactions: `write(data)` (a register pointer or a
command, then any data) and `read(n)`. Readings follow the board's physical
state in `Physics` (the lamp's power draw, the ambient light). A device that
is `gone` does not acknowledge (the bus raises ENODEV, as the ESP32 does), and
one that is `garbled` answers with noise.
"""
from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Physics:
    """What the sensors measure: filled in by the board from its lamp and the rig."""
    lamp_power_w: float = 0.0
    supply_v: float = 24.0
    ambient_lux: float = 10000.0
    clock: Callable[[], float] = time.monotonic   # seconds, for chips that convert over time


class I2CDevice:
    def __init__(self, address: int, physics: Physics):
        self.address = address
        self.physics = physics
        self.gone = False
        self.garbled = False
        self.noise = random.Random(address)

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        raise NotImplementedError

    def answer(self, n: int) -> bytes:
        # noise from a generator seeded by the address: tests see the same garbage every run
        return bytes(self.noise.getrandbits(8) for _ in range(n)) if self.garbled else self.read(n)


class RegisterDevice(I2CDevice):
    """16-bit big-endian registers behind a pointer byte (the TI INA family)."""

    def __init__(self, address: int, physics: Physics, registers: dict[int, int]):
        super().__init__(address, physics)
        self.regs = dict(registers)
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        if len(data) >= 3:
            self.store(self.pointer, (data[1] << 8) | data[2])

    def store(self, reg: int, value: int) -> None:
        if reg in self.regs:
            self.regs[reg] = value

    def read(self, n: int) -> bytes:
        value = self.register(self.pointer)
        return (struct.pack(">H", value & 0xFFFF) * ((n + 1) // 2))[:n]

    def register(self, reg: int) -> int:
        return self.regs.get(reg, 0)

    def current_a(self) -> float:
        p = self.physics
        return p.lamp_power_w / p.supply_v if p.supply_v > 0 else 0.0


class INA219(RegisterDevice):
    """TI INA219: shunt voltage LSB 10 uV, bus voltage LSB 4 mV (bits 15..3)."""

    def __init__(self, address: int, physics: Physics, shunt_ohms: float):
        super().__init__(address, physics, {0: 0x399F, 5: 0})
        self.shunt_ohms = shunt_ohms

    def store(self, reg: int, value: int) -> None:
        if reg == 0 and value & 0x8000:  # reset bit
            self.regs.update({0: 0x399F, 5: 0})
        elif reg in (0, 5):
            self.regs[reg] = value & (0xFFFE if reg == 5 else 0xFFFF)

    def register(self, reg: int) -> int:
        # The shunt ADC saturates at the PGA's full scale: 40 mV << PG (config bits 12..11).
        full = 4000 << ((self.regs[0] >> 11) & 0x3)
        shunt_raw = max(-full, min(full, round(self.current_a() * self.shunt_ohms / 10e-6)))
        cal = self.regs[5]
        current_raw = shunt_raw * cal // 4096
        bus_raw = min(round(self.physics.supply_v / 0.004), 0x1FFF)  # power uses the register's value
        if reg == 1:
            return shunt_raw & 0xFFFF
        if reg == 2:
            return (bus_raw << 3) | 0x2  # CNVR set
        if reg == 3:
            return (current_raw * bus_raw // 5000) & 0xFFFF
        if reg == 4:
            return current_raw & 0xFFFF
        return self.regs.get(reg, 0)


class INA226(RegisterDevice):
    """TI INA226: shunt LSB 2.5 uV, bus LSB 1.25 mV, power LSB 25 x current LSB."""

    MANUFACTURER_ID = 0x5449
    DIE_ID = 0x2260

    def __init__(self, address: int, physics: Physics, shunt_ohms: float):
        super().__init__(address, physics, {0: 0x4127, 5: 0, 6: 0, 7: 0})
        self.shunt_ohms = shunt_ohms

    def store(self, reg: int, value: int) -> None:
        if reg == 0 and value & 0x8000:
            self.regs.update({0: 0x4127, 5: 0, 6: 0, 7: 0})
        elif reg in (0, 5, 6, 7):
            self.regs[reg] = value & (0x7FFF if reg == 5 else 0xFFFF)

    def register(self, reg: int) -> int:
        # The shunt ADC saturates at its 81.92 mV full scale.
        shunt_raw = max(-0x8000, min(0x7FFF, round(self.current_a() * self.shunt_ohms / 2.5e-6)))
        current_raw = shunt_raw * self.regs[5] // 2048
        bus_raw = min(round(self.physics.supply_v / 0.00125), 0x7FFF)  # power uses the register's value
        values = {
            1: shunt_raw,
            2: bus_raw,
            3: current_raw * bus_raw // 20000,
            4: current_raw,
            6: self.regs[6] | 0x0008,  # conversion ready
            0xFE: self.MANUFACTURER_ID,
            0xFF: self.DIE_ID,
        }
        return values.get(reg, self.regs.get(reg, 0)) & 0xFFFF


class BH1750(I2CDevice):
    """ROHM BH1750: opcode commands; a reading is lux * 1.2 * (MTreg / 69).
    Like the chip, the data register holds one conversion's count until the
    next conversion ends, so reads close together agree even while the light
    changes."""

    CONVERSION_S = {0x10: 0.12, 0x11: 0.12, 0x13: 0.016}  # typical, at MTreg 69

    def __init__(self, address: int, physics: Physics):
        super().__init__(address, physics)
        self.powered = False
        self.mode = None
        self.mtreg = 69
        self.held = None          # (count, when it was converted)

    def write(self, data: bytes) -> None:
        for op in data:
            if op == 0x00:
                self.powered = False
            elif op == 0x01:
                self.powered = True
            elif op == 0x07:
                pass  # reset the data register
            elif op in (0x10, 0x11, 0x13, 0x20, 0x21, 0x23):
                self.powered = True
                self.mode = op
            elif op & 0xF8 == 0x40:
                self.mtreg = (self.mtreg & 0x1F) | ((op & 0x07) << 5)
            elif op & 0xE0 == 0x60:
                self.mtreg = (self.mtreg & 0xE0) | (op & 0x1F)
            self.held = None          # a new mode or MTreg starts a new conversion

    def read(self, n: int) -> bytes:
        if self.mode is None:
            return b"\x00" * n
        now = self.physics.clock()
        conversion_s = self.CONVERSION_S[0x10 | self.mode & 0x03] * self.mtreg / 69
        if self.held is None or now - self.held[1] >= conversion_s:
            scale = 1.2 * self.mtreg / 69
            if self.mode in (0x11, 0x21):
                scale *= 2  # high resolution mode 2 counts half-lux
            self.held = (min(round(self.physics.ambient_lux * scale), 0xFFFF), now)
        if self.mode in (0x20, 0x21, 0x23):
            self.mode = None  # one-time modes power down after a reading
        return (struct.pack(">H", self.held[0]) * n)[:n]


class VEML7700(I2CDevice):
    """Vishay VEML7700: 16-bit little-endian command codes (SMBus words)."""

    GAINS = {0: 1.0, 1: 2.0, 2: 0.125, 3: 0.25}
    IT_MS = {0xC: 25, 0x8: 50, 0x0: 100, 0x1: 200, 0x2: 400, 0x3: 800}

    def __init__(self, address: int, physics: Physics):
        super().__init__(address, physics)
        self.regs = {0: 0x0001, 1: 0, 2: 0, 3: 0}  # ALS_CONF: shut down at power-up
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        if len(data) >= 3 and self.pointer in self.regs:
            self.regs[self.pointer] = data[1] | (data[2] << 8)

    def resolution(self) -> float:
        conf = self.regs[0]
        gain = self.GAINS[(conf >> 11) & 0x3]
        it = self.IT_MS.get((conf >> 6) & 0xF, 100)
        return 0.0042 * (800 / it) * (2.0 / gain)  # lux per count

    @staticmethod
    def response(lux: float) -> float:
        """What the chip's ALS channel reports for `lux`: like the real part it
        reads low in bright light, following the inverse of Vishay's correction
        (application note 84323: lux = 6.0135e-13 x^4 - 9.3924e-9 x^3 +
        8.1488e-5 x^2 + 1.0023 x, x the linear reading): about 7 % low at
        1,000 lx, 40 % at 20,000 lx, four fifths at 100,000 lx."""
        if lux <= 0:
            return 0.0
        x = lux
        for _ in range(50):  # Newton: the polynomial rises monotonically over the chip's range
            f = (((6.0135e-13 * x - 9.3924e-9) * x + 8.1488e-5) * x + 1.0023) * x - lux
            df = ((4 * 6.0135e-13 * x - 3 * 9.3924e-9) * x + 2 * 8.1488e-5) * x + 1.0023
            step = f / df
            x -= step
            if abs(step) < 1e-9 * lux:
                break
        return x

    def read(self, n: int) -> bytes:
        if self.pointer == 0x04:  # ALS
            if self.regs[0] & 0x1:
                value = 0
            else:
                value = min(round(self.response(self.physics.ambient_lux) / self.resolution()), 0xFFFF)
        elif self.pointer == 0x05:  # WHITE
            value = min(round(self.physics.ambient_lux * 1.1 / self.resolution()), 0xFFFF) if not self.regs[0] & 1 else 0
        elif self.pointer == 0x07:  # device id
            value = 0xC481
        else:
            value = self.regs.get(self.pointer, 0)
        return (struct.pack("<H", value) * n)[:n]


def make_device(spec: dict, physics: Physics) -> I2CDevice:
    kind, addr = spec["kind"], spec["address"]
    if kind == "ina219":
        return INA219(addr, physics, spec["shunt_ohms"])
    if kind == "ina226":
        return INA226(addr, physics, spec["shunt_ohms"])
    if kind == "bh1750":
        return BH1750(addr, physics)
    if kind == "veml7700":
        return VEML7700(addr, physics)
    raise ValueError(f"no simulation for sensor kind {kind!r}")
