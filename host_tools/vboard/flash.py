"""A vboard's flash from the host side: the LittleFS image the board mounts at
/, read and written with littlefs-python, as a flash dump or a programmer
would see it.

Reading is allowed while the board runs (a snapshot, as littlefs leaves it
after any power cut). Writing is not: the board's littlefs keeps its own view
of free blocks, so the image is only written while no vboard holds it.

    with FlashImage(path) as flash:
        flash.write("main.py", b"print('hi')")
        print(flash.files())
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from littlefs import LittleFS, LittleFSError
from littlefs.context import UserContext

# The esp32 port's `vfs` partition on a 4 MB module, and littlefs configured as
# the board's vfs.VfsLfs2 configures it (extmod/vfs_lfsx.c): its defaults, a
# cache of 4 * max(read, prog) bytes and wear levelling every 100 erases. The
# cache size must be the board's: littlefs keeps files up to a cache in their
# directory's metadata, and its 2.11 reads such a file that is larger than its
# own cache a cache line past the file's end, which fails as LFS_ERR_CORRUPT
# when the file ends a metadata block (littlefs-python's default cache is 32).
BLOCK_SIZE = 4096
BLOCK_COUNT = 512
IMAGE_BYTES = BLOCK_SIZE * BLOCK_COUNT
ROMFS_BYTES = 0x20000   # the `romfs` partition of the esp32 port's partitions-4MiB-romfs.csv
_READ = _PROG = 32
LFS_CONFIG = dict(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT, read_size=_READ, prog_size=_PROG, lookahead_size=32,
                  cache_size=min(BLOCK_SIZE, 4 * max(_READ, _PROG)), block_cycles=100)


class FlashError(Exception):
    """The image cannot be used as asked; the message says why, on one line."""


def blank_image() -> bytearray:
    return bytearray(b"\xff" * IMAGE_BYTES)


def erase_image(path: Path) -> None:
    """Every block erased, as `esptool erase_flash` leaves the partition."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blank_image())


def image_is_blank(path: Path) -> bool:
    """Nothing was ever written: the board's first boot formats it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return True
    return data.count(0xFF) == len(data)


def mount(image: bytearray, *, format_blank: bool = False) -> LittleFS:
    fs = LittleFS(UserContext(buffer=image), mount=False, **LFS_CONFIG)
    try:
        fs.mount()
    except LittleFSError:
        if not format_blank or any(b != 0xFF for b in image):
            raise
        fs.format()
        fs.mount()
    return fs


class FlashImage:
    """The board's filesystem in `path`: a snapshot, written back on exit if changed."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.dirty = False
        self.fs: LittleFS | None = None

    def __enter__(self) -> "FlashImage":
        data = self.path.read_bytes() if self.path.exists() else b""
        if len(data) not in (0, IMAGE_BYTES):
            raise FlashError(f"flash image {self.path} is {len(data)} bytes, not {IMAGE_BYTES}")
        self.image = bytearray(data) if data else blank_image()
        try:
            self.fs = mount(self.image, format_blank=True)
        except LittleFSError as e:
            raise FlashError(f"flash image {self.path} does not mount as LittleFS: {e}") from None
        return self

    def __exit__(self, kind, *_):
        if self.dirty and kind is None:
            self._write_back()

    def _write_back(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FlashError(f"flash image {self.path} is in use by a running vboard: stop it first") from None
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(self.image)
            os.replace(tmp, self.path)
        finally:
            os.close(fd)

    # --- what tests and tools ask of it -------------------------------------
    def read(self, path: str) -> bytes:
        with self.fs.open(_p(path), "rb") as f:
            return f.read()

    def write(self, path: str, data: bytes | str) -> None:
        parent = _p(path).rpartition("/")[0]
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        with self.fs.open(_p(path), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        self.dirty = True

    def remove(self, path: str) -> None:
        try:
            self.fs.remove(_p(path))
            self.dirty = True
        except FileNotFoundError:
            pass

    def exists(self, path: str) -> bool:
        try:
            self.fs.stat(_p(path))
            return True
        except FileNotFoundError:
            return False
        except LittleFSError as e:  # littlefs-python's stat says "no such file" this way
            if e.code == LittleFSError.Error.LFS_ERR_NOENT:
                return False
            raise

    def files(self) -> dict[str, int]:
        """Every file, by path from the root, with its size."""
        out = {}
        for top, _dirs, names in self.fs.walk("/"):
            for name in names:
                path = f"{top.rstrip('/')}/{name}".lstrip("/")
                out[path] = self.fs.stat(path).size
        return out

    def used_blocks(self) -> int:
        return self.fs.used_block_count


def _p(path: str) -> str:
    return str(path).lstrip("/")


def read_file(image: Path | str, path: str) -> bytes:
    with FlashImage(image) as flash:
        return flash.read(path)


def list_files(image: Path | str) -> dict[str, int]:
    with FlashImage(image) as flash:
        return flash.files()
