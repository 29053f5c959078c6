"""ESP32 application images, as the second-stage bootloader checks them.

Layout: a 24-byte header (magic 0xE9, segment count, SPI mode/size/frequency,
entry point, then the extended header ending in `hash_appended`), the segments
(load address, length, data), zero padding up to a checksum byte (XOR of every
segment byte, seeded 0xEF) that ends a 16-byte line, then the SHA-256 of all of
that when `hash_appended` is set. An app's first segment starts with its
`esp_app_desc_t` (magic 0xABCD5432), which names the project and its version.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
HEADER = struct.Struct("<BBBBI")                 # magic, segments, spi mode, size|freq, entry
EXTENDED = struct.Struct("<BBBBHBHH4sB")          # wp pin, drive x3, chip id, revs, reserved, hash_appended
SEGMENT = struct.Struct("<II")
APP_DESC_MAGIC = 0xABCD5432
APP_DESC = struct.Struct("<II8s32s32s16s16s32s32sHHB3s72s")
ESP32_CHIP_ID = 0
MAX_SEGMENTS = 16
# Where an ESP32 can load a segment (DROM/IROM are flash-mapped, the rest RAM).
REGIONS = [(0x3F400000, 0x3F800000), (0x3FF80000, 0x3FF82000), (0x3FFAE000, 0x40000000),
           (0x40070000, 0x400C2000), (0x400C0000, 0x400C2000), (0x400D0000, 0x40400000),
           (0x50000000, 0x50002000)]


class ImageError(ValueError):
    """Not a bootable image; the message says what is wrong and at which byte."""


@dataclass
class AppDesc:
    project: str
    version: str
    idf_version: str
    date: str


@dataclass
class Image:
    entry: int
    chip_id: int
    segments: list[tuple[int, bytes]]
    size: int                       # bytes the image takes, hash included
    hash_appended: bool
    desc: AppDesc | None = field(default=None)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def parse(data: bytes, where: int = 0) -> Image:
    """Check an image the way the bootloader does; `where` is its flash offset, for the messages."""
    if len(data) < HEADER.size + EXTENDED.size:
        raise ImageError(f"image at {where:#x}: {len(data)} bytes is too short for a header")
    magic, count, _mode, _size_freq, entry = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ImageError(f"image at {where:#x} has invalid magic byte {magic:#04x} (nothing flashed here?)")
    if not 0 < count <= MAX_SEGMENTS:
        raise ImageError(f"image at {where:#x}: {count} segments (1 to {MAX_SEGMENTS} expected)")
    ext = EXTENDED.unpack_from(data, HEADER.size)
    chip_id, hash_appended = ext[4], ext[-1]
    if chip_id != ESP32_CHIP_ID:
        raise ImageError(f"image at {where:#x} is for chip id {chip_id}, not an ESP32 (0)")
    if hash_appended not in (0, 1):
        raise ImageError(f"image at {where:#x}: bad hash_appended byte {hash_appended:#04x}")
    pos, checksum, segments = HEADER.size + EXTENDED.size, CHECKSUM_SEED, []
    for i in range(count):
        if pos + SEGMENT.size > len(data):
            raise ImageError(f"image at {where:#x}: segment {i} header runs past the end of the image")
        addr, length = SEGMENT.unpack_from(data, pos)
        pos += SEGMENT.size
        if pos + length > len(data):
            raise ImageError(f"image at {where:#x}: segment {i} ({length} bytes at {addr:#x}) runs past the end")
        if length and not any(lo <= addr and addr + length <= hi for lo, hi in REGIONS):
            raise ImageError(f"image at {where:#x}: segment {i} loads at {addr:#x}, outside the ESP32's memory")
        body = data[pos:pos + length]
        for b in body:
            checksum ^= b
        segments.append((addr, body))
        pos += length
    pos += 15 - pos % 16                          # padding up to the checksum byte
    if pos >= len(data):
        raise ImageError(f"image at {where:#x} is truncated before its checksum")
    if data[pos] != checksum:
        raise ImageError(f"image at {where:#x}: checksum failed, calculated {checksum:#04x} read {data[pos]:#04x}")
    pos += 1
    if hash_appended:
        digest = data[pos:pos + 32]
        if hashlib.sha256(data[:pos]).digest() != digest:
            raise ImageError(f"image at {where:#x}: SHA-256 of the image does not match (truncated or corrupt)")
        pos += 32
    return Image(entry, chip_id, segments, pos, bool(hash_appended), _app_desc(segments))


def _app_desc(segments: list[tuple[int, bytes]]) -> AppDesc | None:
    if not segments or len(segments[0][1]) < APP_DESC.size:
        return None
    f = APP_DESC.unpack_from(segments[0][1])
    if f[0] != APP_DESC_MAGIC:
        return None
    return AppDesc(project=_text(f[4]), version=_text(f[3]), idf_version=_text(f[7]), date=_text(f[6]))


def build(segments: list[tuple[int, bytes]], entry: int, spi_mode: int = 2, size_freq: int = 0x20) -> bytes:
    """An image from segments, checksummed and hashed as esptool's elf2image writes one."""
    out = bytearray(HEADER.pack(MAGIC, len(segments), spi_mode, size_freq, entry))
    out += EXTENDED.pack(0xEE, 0, 0, 0, ESP32_CHIP_ID, 0, 0, 0xFFFF, b"\0" * 4, 1)
    checksum = CHECKSUM_SEED
    for addr, body in segments:
        out += SEGMENT.pack(addr, len(body)) + body
        for b in body:
            checksum ^= b
    out += b"\0" * (15 - len(out) % 16) + bytes([checksum])
    return bytes(out + hashlib.sha256(out).digest())


def app_desc(project: str, version: str, idf_version: str = "v5.4.1", date: str = "Apr  6 2026") -> bytes:
    return APP_DESC.pack(APP_DESC_MAGIC, 0, b"", version.encode(), project.encode(), b"00:00:00",
                         date.encode(), idf_version.encode(), b"\0" * 32, 0, 0xFFFF, 16, b"", b"")
