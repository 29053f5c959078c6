"""The ESP-IDF partition table (at 0x8000): 32-byte entries, then an MD5 entry."""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

OFFSET = 0x8000
ENTRY = struct.Struct("<2sBBII16sI")
MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
APP, DATA = 0x00, 0x01
FACTORY, OTA_0 = 0x00, 0x10


class PartitionError(ValueError):
    pass


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int


def parse(data: bytes) -> list[Partition]:
    parts, pos = [], 0
    while pos + ENTRY.size <= len(data):
        raw = data[pos:pos + ENTRY.size]
        if raw[:2] == MD5_MAGIC:
            if hashlib.md5(data[:pos]).digest() != raw[16:32]:
                raise PartitionError(f"partition table at {OFFSET:#x}: MD5 does not match its entries")
            return parts
        if raw[:2] != MAGIC:
            break
        _, ptype, sub, offset, size, label, _flags = ENTRY.unpack(raw)
        parts.append(Partition(label.split(b"\0", 1)[0].decode("ascii", "replace"), ptype, sub, offset, size))
        pos += ENTRY.size
    if not parts:
        raise PartitionError(f"no valid partition table at {OFFSET:#x}")
    return parts


def boot_app(parts: list[Partition]) -> Partition:
    """The partition the bootloader starts with no OTA data: factory, else ota_0."""
    for wanted in (FACTORY, OTA_0):
        for p in parts:
            if p.type == APP and p.subtype == wanted:
                return p
    raise PartitionError("no bootable app partition in the partition table")


def build(parts: list[Partition]) -> bytes:
    body = b"".join(ENTRY.pack(MAGIC, p.type, p.subtype, p.offset, p.size, p.label.encode(), 0) for p in parts)
    md5 = MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()
    return (body + md5).ljust(0xC00, b"\xff")
