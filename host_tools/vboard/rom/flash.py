"""The board's SPI NOR flash, kept in a file: erased bytes read 0xFF, erasing
works on whole 4 KB sectors, and programming can only clear bits (as on the chip,
writing without erasing first corrupts)."""
from __future__ import annotations

import os
from pathlib import Path

SECTOR = 0x1000
SIZE = 4 * 1024 * 1024
JEDEC_ID = 0x1640EF          # a Winbond W25Q32 (4 MB), as on WROOM-32 modules


class FlashStore:
    def __init__(self, path: Path, size: int = SIZE):
        self.path = Path(path)
        self.size = size
        if not self.path.exists() or self.path.stat().st_size != size:
            self.erase_all()

    @classmethod
    def present(cls, path: Path) -> bool:
        return Path(path).is_file()

    def erase_all(self) -> None:
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.write_bytes(b"\xff" * self.size)
        os.replace(tmp, self.path)

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"flash access {offset:#x}+{length:#x} outside the {self.size >> 20} MB chip")

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def erase(self, offset: int, length: int) -> tuple[int, int]:
        """Erase every sector the range touches; the erased range."""
        start = offset - offset % SECTOR
        end = -(-(offset + length) // SECTOR) * SECTOR
        self._check(start, end - start)
        with open(self.path, "r+b") as f:
            f.seek(start)
            f.write(b"\xff" * (end - start))
        return start, end

    def program(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        with open(self.path, "r+b") as f:
            f.seek(offset)
            old = f.read(len(data))
            f.seek(offset)
            n = len(data)
            f.write((int.from_bytes(old, "big") & int.from_bytes(data, "big")).to_bytes(n, "big"))
