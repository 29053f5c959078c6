"""What an ESP32 does between reset and the app, for a vboard with a ROM.

At reset the ROM reads the strapping pins: GPIO0 low means download mode (the
serial loader in loader.py); otherwise it loads the second-stage bootloader from
flash at 0x1000, which finds the app through the partition table and checks it.
A blank chip prints `invalid header: 0xffffffff` until its RTC watchdog resets
it, over and over; a broken app is reported and the chip resets again. Only a
valid MicroPython image goes on to the interpreter.
"""
from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...esp_image import app as app_image, firmware, partitions
from ..flash import erase_image, image_is_blank
from .flash import FlashStore
from .loader import RomLoader

FLASH_FILE = "spiflash.bin"
BANNER = b"ets Jul 29 2019 12:21:46\r\n\r\nrst:%s,boot:%s\r\n"
FLASH_BOOT = b"0x13 (SPI_FAST_FLASH_BOOT)"
DOWNLOAD_BOOT = b"0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"
RTCWDT_RESET = b"0x10 (RTCWDT_RTC_RESET)"
HEADER_LINES_PER_WDT = 20      # `invalid header` lines before the RTC watchdog resets the chip
LINE_PERIOD = 0.05


class Interrupted(Exception):
    """A reset or a power cut came while the ROM was running."""


@dataclass
class AppStart:
    firmware: firmware.Firmware


class RomChip:
    def __init__(self, board_dir: Path, fs_image: Path, uid: str, print_: Callable[[bytes], None],
                 set_baud: Callable[[int], None], auto_reset: bool = True):
        self.flash = FlashStore(board_dir / FLASH_FILE)
        self.fs_image = fs_image
        self.mac = bytes.fromhex(uid)
        self.print = print_
        self.set_baud = set_baud
        self.auto_reset = auto_reset     # the USB-UART's DTR/RTS wired to EN/GPIO0
        self.boot_held = False           # the BOOT button (GPIO0 low)
        self.strap_once = False          # GPIO0 low for the next reset only (the auto-reset circuit)
        self.loader: RomLoader | None = None
        self.interrupt = asyncio.Event()
        self.leave = asyncio.Event()
        self.rebooting = False
        self.mode = "off"
        self._blank_word: int | None = None              # what the ROM found at 0x1000 instead of a header
        self._vendor: firmware.Firmware | None = None    # a valid app that is not MicroPython
        self.bytes_in = 0
        self._input = bytearray()
        self._rate: float | None = None
        self._pump_wakeup = asyncio.Event()
        self._pump = asyncio.get_running_loop().create_task(self._pace())

    @classmethod
    def present(cls, board_dir: Path) -> bool:
        return FlashStore.present(board_dir / FLASH_FILE)

    @classmethod
    def make_blank(cls, board_dir: Path, fs_image: Path) -> None:
        """A chip straight from the reel: erased flash, so no filesystem either."""
        board_dir.mkdir(parents=True, exist_ok=True)
        FlashStore(board_dir / FLASH_FILE).erase_all()
        erase_image(fs_image)

    def close(self) -> None:
        self._pump.cancel()

    # --- from reset to the app -------------------------------------------------
    async def run(self, reset_cause: bytes) -> AppStart:
        """Boot as the chip does; returns when MicroPython would start. Raises Interrupted."""
        self.interrupt.clear()
        cause = reset_cause
        while True:
            download = self.boot_held or self.strap_once
            self.strap_once = False
            if download:
                self.print(BANNER % (cause, DOWNLOAD_BOOT) + b"waiting for download\r\n")
                reboot = await self._download()
                cause = b"0xc (SW_CPU_RESET)"
                if not reboot:
                    start = self._load()          # "run user code": straight into the bootloader
                    if start:
                        return start
                    await self._hang()
                continue
            self.print(BANNER % (cause, FLASH_BOOT))
            start = self._load()
            if start:
                return start
            await self._hang()
            cause = RTCWDT_RESET

    def _load(self) -> AppStart | None:
        """The ROM loads the bootloader, the bootloader the app; None when something is broken
        (the messages are printed, the chip waits for its watchdog)."""
        self.mode = "boot"
        word = struct.unpack("<I", self.flash.read(firmware.WRITE_OFFSET, 4))[0]
        self._blank_word = self._vendor = None
        if word & 0xFF != app_image.MAGIC:
            self._blank_word = word
            return None
        try:
            boot = app_image.parse(self.flash.read(firmware.WRITE_OFFSET, partitions.OFFSET - firmware.WRITE_OFFSET),
                                   firmware.WRITE_OFFSET)
        except app_image.ImageError as e:
            self.print(f"{e}\r\nets_main.c 371 \r\n".encode())
            return None
        self.print(b"configsip: 0, SPIWP:0xee\r\nmode:DIO, clock div:2\r\n"
                   + b"".join(b"load:0x%08x,len:%d\r\n" % (addr, len(body)) for addr, body in boot.segments)
                   + b"entry 0x%08x\r\n" % boot.entry)
        try:
            fw = firmware.inspect(self.flash.read, self.flash.size)
        except (app_image.ImageError, partitions.PartitionError) as e:
            self.print(f"E (95) esp_image: {e}\r\nE (101) boot: No bootable app partitions in the partition "
                       f"table\r\nuser code done\r\n".encode())
            return None
        if not fw.is_micropython:
            self.print(f"I (310) cpu_start: Project name:     {fw.project}\r\n"
                       f"I (315) cpu_start: App version:      {fw.version}\r\n".encode())
            self._vendor = fw
            return None
        self.mode = "app"
        return AppStart(fw)

    async def _hang(self) -> None:
        """What a chip that cannot start its app does until its watchdog resets it (forever,
        for an app that runs but is not MicroPython)."""
        self.mode = "bootloop"
        if self._blank_word is not None:
            line = b"invalid header: 0x%08x\r\n" % self._blank_word
            for _ in range(HEADER_LINES_PER_WDT):
                self.print(line)
                await self._sleep(LINE_PERIOD)
        elif self._vendor is not None:
            self.mode = "vendor-app"
            while True:
                self.print(f"{self._vendor.project}: self-test ok, waiting\r\n".encode())
                await self._sleep(1.0)
        else:
            await self._sleep(1.0)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.interrupt.wait(), seconds)
        except asyncio.TimeoutError:
            return
        raise Interrupted()

    # --- download mode -------------------------------------------------------------
    async def _download(self) -> bool:
        """Serve the serial loader until the host ends it; True to reboot, False to run the app."""
        self.mode = "download"
        self.leave.clear()
        self.loader = RomLoader(self.flash, self.mac, self.print, self._baud, self._erased, self._exit)
        try:
            waiter = asyncio.ensure_future(self.leave.wait())
            stop = asyncio.ensure_future(self.interrupt.wait())
            await asyncio.wait([waiter, stop], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stop.cancel()
            if self.interrupt.is_set():
                raise Interrupted()
            await asyncio.sleep(0.01)          # the last answer leaves the UART first
            return self.rebooting
        finally:
            self.loader = None
            self._input.clear()
            self._baud(115200)             # the ROM's rate after any reset

    def _exit(self, reboot: bool) -> None:
        self.rebooting = reboot
        self.leave.set()

    def _baud(self, baud: int) -> None:
        self.set_baud(baud)
        if self._rate is not None:
            self._rate = baud / 10

    def _erased(self, start: int, end: int) -> None:
        if end > firmware.FS_OFFSET:
            erase_image(self.fs_image)     # the filesystem's sectors: MicroPython will format them anew

    def set_throttle(self, baud: int | None) -> None:
        self._rate = baud / 10 if baud else None

    def feed(self, data: bytes) -> None:
        """Bytes from the host, paced at the line's rate as a UART would deliver them."""
        if self.loader is None:
            return                            # nobody listens outside download mode
        self._input += data
        self._pump_wakeup.set()

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            if not self._input:
                self._pump_wakeup.clear()
                await self._pump_wakeup.wait()
                due = loop.time()
                continue
            n = len(self._input)
            if self._rate:
                n = min(n, max(1, int(self._rate * 0.004)))
                due += n / self._rate       # when the last of these bits has crossed the wire
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            chunk = bytes(self._input[:n])
            del self._input[:n]
            self.bytes_in += len(chunk)
            if self.loader is not None:
                try:
                    self.loader.feed(chunk)
                except OSError as e:          # the flash file: reported as the ROM reports a failed write
                    self.print(f"flash error: {e}\r\n".encode())

