"""The ESP32 ROM's serial download protocol, command by command.

A request is a SLIP frame: direction 0, opcode, data length, a checksum word,
then the data. The ROM answers each with direction 1, the same opcode, a value
word, and data ending in four status bytes (status, error, two reserved): the
ESP32's ROM sends four where the stub sends two. What the ROM cannot do (the
stub's commands) is answered with status 1, error 0x05."""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

from . import slip
from .flash import FlashStore
from .registers import Registers, rom_crystal_hz, XTAL_HZ

SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13
# ROM error codes
BAD_MESSAGE, FAILED, BAD_CHECKSUM, FLASH_WRITE_ERR, FLASH_READ_ERR, DEFLATE_ERR = 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B
CHECKSUM_SEED = 0xEF
ROM_DEFAULT_FLASH = 2 * 1024 * 1024   # what the ROM assumes until SPI_SET_PARAMS says otherwise
SYNC_BODY = b"\x07\x07\x12\x20" + b"\x55" * 32


class Refused(Exception):
    def __init__(self, error: int):
        self.error = error


@dataclass
class Download:
    """A FLASH_BEGIN or FLASH_DEFL_BEGIN in progress."""
    offset: int
    blocks: int
    block_size: int
    compressed: bool
    seq: int = 0
    written: int = 0
    inflate: object = None


class RomLoader:
    """Feed it the bytes the host sends; it calls `send` with what the ROM answers.

    `on_baud(baud)` is called after a baud change is acknowledged; `on_erase(start, end)`
    for each erase; `on_exit(reboot)` when the host ends the session (FLASH_END/MEM_END)."""

    def __init__(self, flash: FlashStore, mac: bytes, send: Callable[[bytes], None],
                 on_baud: Callable[[int], None], on_erase: Callable[[int, int], None],
                 on_exit: Callable[[bool], None]):
        self.flash = flash
        self.regs = Registers(mac)
        self.send, self.on_baud, self.on_erase, self.on_exit = send, on_baud, on_erase, on_exit
        self.decoder = slip.Decoder()
        self.flash_size = ROM_DEFAULT_FLASH
        self.download: Download | None = None
        self.synced = False
        self.bytes_written = 0

    def feed(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            self._frame(frame)

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> None:
        body = data + bytes([1 if error else 0, error, 0, 0])
        self.send(slip.encode(struct.pack("<BBHI", 1, op, len(body), value) + body))

    def _frame(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[0] != 0:
            return                                    # not a request: the ROM ignores it
        _, op, size, chk = struct.unpack_from("<BBHI", frame)
        data = frame[8:]
        if len(data) != size:
            self._reply(op, error=BAD_MESSAGE)
            return
        if op == SYNC:
            if data != SYNC_BODY:
                return
            self.synced = True
            for _ in range(8):                        # the ROM answers a sync eight times over
                self._reply(SYNC, value=0x20120707)
            return
        if not self.synced:
            return                                    # autobaud not locked yet: noise to the ROM
        handler = self.HANDLERS.get(op)
        if handler is None:
            self._reply(op, error=BAD_MESSAGE)
            return
        try:
            value, out = handler(self, data, chk)
        except Refused as e:
            self._reply(op, error=e.error)
            return
        except (struct.error, ValueError):
            self._reply(op, error=BAD_MESSAGE)
            return
        self._reply(op, value, out)
        if op == CHANGE_BAUDRATE:
            self.regs.baud = value            # the UART divider now reads for the new rate
            self.on_baud(value)
        elif op in (FLASH_END, FLASH_DEFL_END):
            self.on_exit(not struct.unpack("<I", data[:4])[0])

    # --- registers ------------------------------------------------------------
    def _read_reg(self, data, chk):
        (addr,) = struct.unpack("<I", data[:4])
        return self.regs.read(addr), b""

    def _write_reg(self, data, chk):
        if len(data) % 16:
            raise Refused(BAD_MESSAGE)
        for i in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
            self.regs.write(addr, value, mask)
        return 0, b""

    def _spi_attach(self, data, chk):
        if len(data) != 8:
            raise Refused(BAD_MESSAGE)
        return 0, b""

    def _spi_set_params(self, data, chk):
        _id, total, _block, sector, page, _mask = struct.unpack("<IIIIII", data)
        if total > self.flash.size or total == 0 or sector != 0x1000 or page != 256:
            raise Refused(FAILED)
        self.flash_size = total
        return 0, b""

    def _change_baud(self, data, chk):
        rom_baud, _ = struct.unpack("<II", data)
        # the ROM times the UART from its 8 MHz oscillator; esptool pre-scales for that
        return round(rom_baud * XTAL_HZ / rom_crystal_hz()), b""

    # --- flash ---------------------------------------------------------------
    def _erase(self, offset: int, size: int) -> None:
        if offset % 0x1000 or offset + size > self.flash_size:
            raise Refused(FAILED)
        if size:
            self.on_erase(*self.flash.erase(offset, size))

    def _begin(self, data, compressed: bool):
        if len(data) != 16:                           # the ESP32 ROM takes no encryption flag
            raise Refused(BAD_MESSAGE)
        size, blocks, block_size, offset = struct.unpack("<IIII", data)
        self._erase(offset, size)
        self.download = Download(offset, blocks, block_size, compressed,
                                 inflate=zlib.decompressobj() if compressed else None)
        return 0, b""

    def _flash_begin(self, data, chk):
        return self._begin(data, compressed=False)

    def _defl_begin(self, data, chk):
        return self._begin(data, compressed=True)

    def _data(self, data, chk, compressed: bool):
        d = self.download
        if d is None or d.compressed != compressed:
            raise Refused(FAILED)
        size, seq, _, _ = struct.unpack_from("<IIII", data)
        block = data[16:]
        if len(block) != size:
            raise Refused(BAD_MESSAGE)
        check = CHECKSUM_SEED
        for b in block:
            check ^= b
        if check != chk & 0xFF:
            raise Refused(BAD_CHECKSUM)
        if seq != d.seq:
            raise Refused(FAILED)
        if compressed:
            try:
                plain = d.inflate.decompress(block)
            except zlib.error:
                raise Refused(DEFLATE_ERR) from None
        else:
            plain = block.ljust(d.block_size, b"\xff")
        if d.offset + d.written + len(plain) > self.flash_size:
            raise Refused(FLASH_WRITE_ERR)
        self.flash.program(d.offset + d.written, plain)
        d.written += len(plain)
        d.seq += 1
        self.bytes_written += len(plain)
        return 0, b""

    def _flash_data(self, data, chk):
        return self._data(data, chk, compressed=False)

    def _defl_data(self, data, chk):
        return self._data(data, chk, compressed=True)

    def _end(self, data, chk):
        struct.unpack("<I", data[:4])                 # 0: reboot; 1: run the app in flash (after the reply)
        self.download = None
        return 0, b""

    def _md5(self, data, chk):
        addr, size, _, _ = struct.unpack("<IIII", data)
        if addr + size > self.flash_size:
            raise Refused(FLASH_READ_ERR)
        return 0, hashlib.md5(self.flash.read(addr, size)).hexdigest().encode()

    def _read_slow(self, data, chk):
        addr, size = struct.unpack("<II", data[:8])
        if size > 64 or addr + size > self.flash_size:
            raise Refused(FLASH_READ_ERR)
        return 0, self.flash.read(addr, size).ljust(64, b"\xff")

    # --- RAM (the stub's way in): accepted, but a vboard runs no uploaded code ---
    def _mem_begin(self, data, chk):
        return 0, b""

    def _mem_data(self, data, chk):
        return 0, b""

    def _mem_end(self, data, chk):
        raise Refused(FAILED)

    HANDLERS = {
        READ_REG: _read_reg, WRITE_REG: _write_reg, SPI_ATTACH: _spi_attach, SPI_SET_PARAMS: _spi_set_params,
        CHANGE_BAUDRATE: _change_baud, FLASH_BEGIN: _flash_begin, FLASH_DATA: _flash_data, FLASH_END: _end,
        FLASH_DEFL_BEGIN: _defl_begin, FLASH_DEFL_DATA: _defl_data, FLASH_DEFL_END: _end,
        SPI_FLASH_MD5: _md5, READ_FLASH_SLOW: _read_slow,
        MEM_BEGIN: _mem_begin, MEM_DATA: _mem_data, MEM_END: _mem_end,
    }
