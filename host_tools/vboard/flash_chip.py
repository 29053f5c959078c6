"""What the board's SPI flash chip does with a program or erase in progress when
the interpreter stops.

The board's flash driver (shims/flashbdev.py) writes each operation into a
small status file before it touches the image, and marks the status idle when
it is done, as a chip's write-in-progress bit. When the interpreter ends with an
operation still in progress the supervisor settles it here: a reset leaves the
chip powered, so the operation finishes; a power cut stops it part-way. A
program stopped part-way has programmed some of its bits (1 to 0) and not
others; an erase stopped part-way has erased some bits (0 to 1) and not others.
Which ones is down to the cell, so it is random here. littlefs is designed to
survive both (its commits carry CRCs, and it checks that the space after its
last commit still reads erased before it programs there).

Status file: kind (1 byte), 3 bytes padding, address and length (little-endian
32-bit), then the bytes a program writes.
"""
from __future__ import annotations

import random
import struct
from pathlib import Path

from .flash import BLOCK_SIZE

IDLE, PROGRAM, ERASE = 0, 1, 2
HEAD = struct.Struct("<B3xII")
STATUS_BYTES = HEAD.size + BLOCK_SIZE   # room for a whole block's program


def new_status(path: Path) -> None:
    path.write_bytes(bytes(STATUS_BYTES))


def settle(image: Path, status: Path, powered: bool, rng: random.Random | None = None) -> str | None:
    """Finish (powered) or tear (power cut) the operation in progress, if any:
    returns "program" or "erase" when one was torn."""
    try:
        raw = status.read_bytes()
    except FileNotFoundError:
        return None
    kind, addr, length = HEAD.unpack_from(raw) if len(raw) >= HEAD.size else (IDLE, 0, 0)
    if kind not in (PROGRAM, ERASE):
        return None
    rng = rng or random.Random()
    data = raw[HEAD.size:HEAD.size + length]
    torn = None
    with open(image, "r+b") as f:
        f.seek(addr)
        now = f.read(length)
        if kind == PROGRAM:
            # the driver writes a program in one go: the image holds it all or none of it
            if powered or now == data:
                result = data
            else:
                result, torn = torn_program(now, data, rng), "program"
        elif powered:
            result = b"\xff" * length
        else:
            result, torn = torn_erase(now, rng), "erase"
        f.seek(addr)
        f.write(result)
    with open(status, "r+b") as f:
        f.write(bytes([IDLE]))
    return torn


def torn_program(old: bytes, data: bytes, rng: random.Random) -> bytes:
    """Some of the bits the program clears are cleared; a program never sets a bit."""
    some = _some_bits(len(old), rng)
    return bytes(o & ~(o & ~d & m) for o, d, m in zip(old, data, some))


def torn_erase(old: bytes, rng: random.Random) -> bytes:
    """Some of the bits still programmed are erased."""
    return bytes(o | m for o, m in zip(old, _some_bits(len(old), rng)))


def _some_bits(n: int, rng: random.Random) -> bytes:
    """n bytes of random bits, each set with a probability drawn for this cut:
    the cut may come near the operation's start (few bits) or its end (most)."""
    p = rng.random()
    return bytes(sum(1 << b for b in range(8) if rng.random() < p) for _ in range(n))
