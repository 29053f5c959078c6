"""The rig's I2C chips simulated at register level, behind an I2C bus object
with the busio.I2C interface the Adafruit drivers use (try_lock, writeto,
readfrom_into, writeto_then_readfrom, scan). Below the hardware line only:
the real drivers run unchanged on top.

Faults as a bus shows them: an address that NAKs (chip unplugged, OSError
EREMOTEIO as Linux and Blinka raise it) and bus errors (OSError EIO: a stuck
SDA line, lost arbitration) for the next `n` transactions."""
from __future__ import annotations

import errno
import threading
import time
from typing import Callable


class SimI2C:
    def __init__(self):
        self.devices: dict[int, "Chip"] = {}
        self.naks: set[int] = set()
        self.bus_errors = 0
        self.transactions = 0
        self._lock = threading.Lock()
        self._owner: int | None = None

    def attach(self, address: int, chip: "Chip") -> "Chip":
        self.devices[address] = chip
        return chip

    # -- busio.I2C ----------------------------------------------------------
    def try_lock(self) -> bool:
        if self._lock.acquire(blocking=False):
            self._owner = threading.get_ident()
            return True
        return False

    def unlock(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("I2C bus unlocked by a thread that does not hold it")
        self._owner = None
        self._lock.release()

    def scan(self) -> list[int]:
        return sorted(a for a in self.devices if a not in self.naks)

    def writeto(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        self._chip(address).write(bytes(buffer[start:end]))

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end: int | None = None) -> None:
        end = len(buffer) if end is None else end
        buffer[start:end] = self._chip(address).read(end - start)

    def writeto_then_readfrom(self, address: int, buffer_out, buffer_in, *, out_start: int = 0,
                              out_end: int | None = None, in_start: int = 0, in_end: int | None = None) -> None:
        chip = self._chip(address)
        chip.write(bytes(buffer_out[out_start:out_end]))
        in_end = len(buffer_in) if in_end is None else in_end
        buffer_in[in_start:in_end] = chip.read(in_end - in_start)

    def deinit(self) -> None:
        pass

    def _chip(self, address: int) -> "Chip":
        self.transactions += 1
        if self.bus_errors:
            self.bus_errors -= 1
            raise OSError(errno.EIO, "I2C bus error")
        chip = self.devices.get(address)
        if chip is None or address in self.naks:
            raise OSError(errno.EREMOTEIO, f"no ACK from 0x{address:02x}")
        return chip


class Chip:
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        raise NotImplementedError


class MCP23017(Chip):
    """16-bit I/O expander, IOCON.BANK = 0 (A/B registers paired), sequential
    addressing: the register pointer steps on after each byte and wraps."""

    IODIRA, IPOLA, GPPUA, GPIOA, OLATA, IOCONA = 0x00, 0x02, 0x0C, 0x12, 0x14, 0x0A
    NREGS = 0x16

    def __init__(self, on_output: Callable[[int, bool], None] | None = None):
        self.regs = bytearray(self.NREGS)
        self.regs[0x00] = self.regs[0x01] = 0xFF  # every line an input at power-on
        self.inputs = 0                            # levels driven from outside, one bit a line
        self.on_output = on_output
        self.pointer = 0
        self._driven = self.outputs()

    def _u16(self, reg: int) -> int:
        return self.regs[reg] | self.regs[reg + 1] << 8

    def outputs(self) -> dict[int, bool]:
        """The level of every line configured as an output."""
        iodir, olat = self._u16(self.IODIRA), self._u16(self.OLATA)
        return {pin: bool(olat >> pin & 1) for pin in range(16) if not iodir >> pin & 1}

    def write(self, data: bytes) -> None:
        if not data:
            return  # an address probe
        self.pointer = data[0] % self.NREGS
        for byte in data[1:]:
            reg = self.pointer
            if reg in (self.GPIOA, self.GPIOA + 1):
                reg += self.OLATA - self.GPIOA  # writing GPIO writes the output latch
            if reg not in (0x0E, 0x0F, 0x10, 0x11):  # INTF and INTCAP are read-only
                self.regs[reg] = byte
            self.pointer = (self.pointer + 1) % self.NREGS
        self._notify()

    def read(self, n: int) -> bytes:
        out = bytearray()
        for _ in range(n):
            reg = self.pointer
            if reg in (self.GPIOA, self.GPIOA + 1):
                iodir, olat, ipol = self._u16(self.IODIRA), self._u16(self.OLATA), self._u16(self.IPOLA)
                levels = (olat & ~iodir) | ((self.inputs ^ ipol) & iodir)
                out.append(levels >> (8 * (reg - self.GPIOA)) & 0xFF)
            else:
                out.append(self.regs[reg])
            self.pointer = (self.pointer + 1) % self.NREGS
        return bytes(out)

    def _notify(self) -> None:
        now = self.outputs()
        changed = {p: v for p, v in now.items() if self._driven.get(p) != v}
        self._driven = now
        if self.on_output:
            for pin, level in sorted(changed.items()):
                self.on_output(pin, level)


class ADS1115(Chip):
    """16-bit ADC: pointer register, then conversion (0), config (1) and the
    comparator thresholds (2, 3). Single-shot conversions take one sample time
    at the configured data rate; `volts(channel)` is what each AIN pin sees."""

    FSR = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
    RATES = (8, 16, 32, 64, 128, 250, 475, 860)

    def __init__(self, volts: Callable[[int], float]):
        self.volts = volts
        self.regs = [0x0000, 0x8583, 0x8000, 0x7FFF]
        self.pointer = 0
        self.done_at = 0.0
        self.mux_pga = (4, 2)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0] & 0x03
        if len(data) >= 3:
            value = data[1] << 8 | data[2]
            if self.pointer == 1:
                self._configure(value)
            elif self.pointer in (2, 3):
                self.regs[self.pointer] = value

    def _configure(self, value: int) -> None:
        single = value & 0x0100
        self.regs[1] = value & 0x7FFF
        if single and not value & 0x8000:
            self.regs[1] |= 0x8000  # no conversion asked: idle
            return
        self.mux_pga = (value >> 12 & 0x07, value >> 9 & 0x07)
        self._convert()
        self.done_at = time.monotonic() + 1 / self.RATES[value >> 5 & 0x07]

    def _convert(self) -> None:
        mux, pga = self.mux_pga
        if mux < 4:
            raise OSError(errno.EIO, "simulated ADS1115: differential inputs are not wired on the rig")
        code = round(self.volts(mux - 4) / self.FSR[pga] * 32768)
        self.regs[0] = max(-32768, min(32767, code)) & 0xFFFF

    def read(self, n: int) -> bytes:
        if self.pointer == 0 and not self.regs[1] & 0x0100:
            self._convert()  # continuous mode: always the latest sample
        value = self.regs[self.pointer]
        if self.pointer == 1 and self.regs[1] & 0x0100 and time.monotonic() >= self.done_at:
            value |= 0x8000  # the single-shot conversion is over
        out = bytes([value >> 8, value & 0xFF])
        return (out * ((n + 1) // 2))[:n]
