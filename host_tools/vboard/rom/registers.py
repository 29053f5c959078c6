"""The registers esptool reads in download mode: the chip magic, the eFuses
(MAC, package, revision), the UART divider and RTC calibration it derives the
crystal from, and the SPI peripheral through which it runs flash commands."""
from __future__ import annotations

import struct

from .flash import JEDEC_ID

CHIP_MAGIC_ADDR, CHIP_MAGIC = 0x40001000, 0x00F01D83
EFUSE_BASE = 0x3FF5A000
APB_CTL_DATE = 0x3FF6607C
UART_CLKDIV = 0x3FF40014
RTC_CALI = 0x3FF5F06C
GPIO_STRAP = 0x3FF44038
SPI_BASE = 0x3FF42000
SPI_CMD, SPI_ADDR, SPI_USR2, SPI_W0 = SPI_BASE, SPI_BASE + 0x04, SPI_BASE + 0x24, SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18
XTAL_HZ = 40_000_000
CK8M = 0x33                                  # the 8 MHz oscillator's eFuse trim
CALI = round(XTAL_HZ * 40 / (15625 * CK8M))  # so esptool's ROM-crystal estimate lands on 40 MHz
SFDP = b"SFDP\x06\x01\x00\xff"


def rom_crystal_hz() -> float:
    return CALI * 15625 * CK8M / 40


def efuse_words(mac: bytes) -> list[int]:
    """Block 0 of an ESP32-D0WD-V3 (revision v3.0, dual core, 240 MHz) with this factory MAC."""
    crc = _crc8(mac)
    words = [0] * 7
    words[1] = struct.unpack(">I", mac[2:6])[0]
    words[2] = crc << 16 | struct.unpack(">H", mac[0:2])[0]
    words[3] = (1 << 9) | (1 << 15)           # package D0WD, revision bit 0
    words[4] = CK8M
    words[5] = 1 << 20                        # revision bit 1
    return words


def _crc8(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


class Registers:
    def __init__(self, mac: bytes):
        self.efuse = efuse_words(mac)
        self.baud = 115200
        self.spi: dict[int, int] = {}

    def read(self, addr: int) -> int:
        if addr == CHIP_MAGIC_ADDR:
            return CHIP_MAGIC
        if EFUSE_BASE <= addr < EFUSE_BASE + 4 * len(self.efuse):
            return self.efuse[(addr - EFUSE_BASE) // 4]
        if addr == APB_CTL_DATE:
            return 0x80000000 | 0x16042000   # bit 31: revision 3
        if addr == UART_CLKDIV:
            return round(XTAL_HZ / self.baud) & 0xFFFFF
        if addr == RTC_CALI:
            return CALI << 7
        if addr == GPIO_STRAP:
            return 0x03                       # GPIO0 low at reset: download boot
        return self.spi.get(addr, 0)

    def write(self, addr: int, value: int, mask: int) -> None:
        old = self.read(addr) if addr in self.spi else 0
        value = (old & ~mask) | (value & mask)
        if addr == SPI_CMD and value & SPI_CMD_USR:
            self._spi_command()
            value &= ~SPI_CMD_USR             # done at once
        if SPI_BASE <= addr < SPI_BASE + 0x100:
            self.spi[addr] = value & 0xFFFFFFFF

    def _spi_command(self) -> None:
        """A user command on the flash chip: the ID, the status registers, SFDP."""
        cmd = self.spi.get(SPI_USR2, 0) & 0xFF
        addr = self.spi.get(SPI_ADDR, 0) >> 8
        if cmd == 0x9F:
            reply = JEDEC_ID
        elif cmd == 0x5A:
            reply = struct.unpack("<I", (SFDP[addr:addr + 4] if addr < len(SFDP) else b"").ljust(4, b"\xff"))[0]
        else:                                 # RDSR/RDSR2/RDSR3 and the rest: idle, unprotected
            reply = 0
        self.spi[SPI_W0] = reply
