"""The image cache: pinned release images, downloaded once (on a machine with
internet access) or taken from a file, and only ever stored after their sha256
matches the pin and the image passes the chip's own boot checks."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ..esp_image import firmware
from ..esp_image.app import ImageError
from ..esp_image.partitions import PartitionError
from ..paths import state_home
from .pins import Pin

CACHE_ENV = "PILOTLIGHT_FIRMWARE_CACHE"
MAX_IMAGE = 4 * 1024 * 1024
CHUNK = 64 * 1024


class ImageRefused(Exception):
    """The image is not the pinned one, or not bootable; the message says which and why."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or state_home() / "firmware")


def cached_path(pin: Pin, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / pin.file


def check(pin: Pin, data: bytes, source: str) -> firmware.Firmware:
    """Refuse anything but the pinned image: its hash, then what the chip checks at boot."""
    if pin.sha256 is None:
        raise ImageRefused(f"{pin.board_type}: no sha256 is pinned in {pin.path} yet: check an image by hand, then "
                           f"record it with `pilotlight firmware pin {pin.board_type} FILE`")
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        raise ImageRefused(f"{source}: sha256 {digest} does not match the pinned {pin.sha256} "
                           f"({pin.file}, {pin.path})")
    return inspect(pin, data, source)


def inspect(pin: Pin, data: bytes, source: str) -> firmware.Firmware:
    try:
        fw = firmware.inspect_file(data, pin.offset)
    except (ImageError, PartitionError) as e:
        raise ImageRefused(f"{source}: not a bootable ESP32 image: {e}") from None
    if not fw.is_micropython or not firmware.same_version(fw.version, pin.version):
        raise ImageRefused(f"{source}: the image is {fw.project} {fw.version}, the pin says micropython {pin.version}")
    return fw


def store(pin: Pin, data: bytes, source: str, directory: Path | None = None) -> Path:
    check(pin, data, source)
    path = cached_path(pin, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".part-", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
    return path


def load(pin: Pin, directory: Path | None = None) -> bytes:
    """The pinned image from the cache, checked again (a cache can rot); ImageRefused if absent or bad."""
    path = cached_path(pin, directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageRefused(f"{pin.file} is not in the cache ({path.parent}): run `pilotlight firmware fetch` on a "
                           f"machine with internet access, or `pilotlight firmware fetch --image FILE`") from None
    check(pin, data, str(path))
    return data


def download(pin: Pin, url: str, progress: Callable[[int, int | None], None] | None = None,
             timeout: float = 60) -> bytes:
    """The image's bytes from `url`, bounded in size; OSError on network trouble."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total and total > MAX_IMAGE:
                raise ImageRefused(f"{url}: {total} bytes is more than any ESP32 image")
            data = bytearray()
            while chunk := resp.read(CHUNK):
                data += chunk
                if len(data) > MAX_IMAGE:
                    raise ImageRefused(f"{url}: more than {MAX_IMAGE} bytes, not an ESP32 image")
                if progress:
                    progress(len(data), total)
            return bytes(data)
    except urllib.error.HTTPError as e:
        raise OSError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise OSError(f"{url}: {e.reason}") from None
