"""A MicroPython release image for the ESP32 (`ESP32_GENERIC-DATE-VERSION.bin`): the
second-stage bootloader, the partition table and the app, laid out as they sit in
flash from 0x1000 on. Checked the way the chip's boot checks them, so a truncated
or corrupted download is refused before it is written to a board."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable

from . import app, partitions

WRITE_OFFSET = 0x1000          # where the release image goes on a classic ESP32
APP_OFFSET = 0x10000
FLASH_SIZE = 4 * 1024 * 1024
FS_OFFSET = 0x200000           # MicroPython's filesystem: from the end of the app partition to the end of flash
LAYOUT = [partitions.Partition("nvs", partitions.DATA, 0x02, 0x9000, 0x6000),
          partitions.Partition("phy_init", partitions.DATA, 0x01, 0xF000, 0x1000),
          partitions.Partition("factory", partitions.APP, partitions.FACTORY, APP_OFFSET, FS_OFFSET - APP_OFFSET)]


@dataclass(frozen=True)
class Firmware:
    project: str
    version: str
    idf_version: str
    app_offset: int
    app_size: int

    @property
    def is_micropython(self) -> bool:
        return self.project == "micropython"


Reader = Callable[[int, int], bytes]    # (flash offset, length) -> bytes


def inspect(read: Reader, flash_size: int = FLASH_SIZE) -> Firmware:
    """What the boot finds in flash; ImageError/PartitionError say why it would not boot."""
    app.parse(read(WRITE_OFFSET, partitions.OFFSET - WRITE_OFFSET), WRITE_OFFSET)       # the bootloader
    table = partitions.parse(read(partitions.OFFSET, 0xC00))
    part = partitions.boot_app(table)
    if part.offset + part.size > flash_size:
        raise partitions.PartitionError(f"partition {part.label} ends past the {flash_size >> 20} MB flash")
    image = app.parse(read(part.offset, part.size), part.offset)
    if image.desc is None:
        raise app.ImageError(f"app at {part.offset:#x} carries no app description (magic 0xABCD5432)")
    return Firmware(image.desc.project, image.desc.version, image.desc.idf_version, part.offset, image.size)


def inspect_file(data: bytes, offset: int = WRITE_OFFSET) -> Firmware:
    """A release image as a file, written at `offset`."""
    def read(at: int, n: int) -> bytes:
        start = at - offset
        if start < 0:
            raise app.ImageError(f"the image starts at {offset:#x}, after {at:#x}")
        return data[start:start + n].ljust(n, b"\xff")
    if len(data) > FS_OFFSET - offset:
        raise app.ImageError(f"{len(data)} bytes would run into the filesystem at {FS_OFFSET:#x}")
    return inspect(read)


def same_version(a: str, b: str) -> bool:
    """'v1.28.0' and '1.28.0' are one release."""
    return a.strip().lstrip("v") == b.strip().lstrip("v")


def build(version: str = "v1.28.0", project: str = "micropython", app_bytes: int = 16 * 1024,
          seed: int = 0) -> bytes:
    """A small but valid release image, laid out as MicroPython's, for tests and benchmarks
    (its code is random bytes: it only has to pass the boot's checks)."""
    rnd = random.Random(seed)
    payload = rnd.randbytes(app_bytes)
    boot = app.build([(0x3FFF0030, rnd.randbytes(1024)), (0x40078000, rnd.randbytes(2048))], entry=0x40080400)
    firmware = app.build([(0x3F400020, app.app_desc(project, version) + payload),
                          (0x3FFB0000, rnd.randbytes(256))], entry=0x40081000)
    image = bytearray(b"\xff" * (APP_OFFSET - WRITE_OFFSET))
    image[:len(boot)] = boot
    table = partitions.build(LAYOUT)
    at = partitions.OFFSET - WRITE_OFFSET
    image[at:at + len(table)] = table
    return bytes(image) + firmware


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
