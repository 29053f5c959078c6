"""Pins: which MicroPython release image a board type gets, by version and sha256.

One JSON file per board type in board_configs/micropython/ (PILOTLIGHT_FIRMWARE_PINS
names another folder, for a depot's own builds or for tests)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..paths import BOARD_CONFIGS

PINS_ENV = "PILOTLIGHT_FIRMWARE_PINS"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PinError(Exception):
    """A pin is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Pin:
    board_type: str
    chip: str
    micropython_board: str
    version: str
    file: str
    url: str
    sha256: str | None          # None: nobody has vetted an image for this board type yet
    offset: int
    path: Path                  # the pin file itself, for messages


def pins_dir() -> Path:
    return Path(os.environ.get(PINS_ENV) or BOARD_CONFIGS / "micropython")


def load(board_type: str, directory: Path | None = None) -> Pin:
    path = (directory or pins_dir()) / f"{board_type}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise PinError(f"no MicroPython image is pinned for board type {board_type!r} ({path} is missing)") from None
    except json.JSONDecodeError as e:
        raise PinError(f"{path}: line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        pin = Pin(board_type=raw["board_type"], chip=raw["chip"], micropython_board=raw["micropython_board"],
                  version=raw["version"], file=raw["file"], url=raw["url"], sha256=raw.get("sha256"),
                  offset=int(raw["offset"]), path=path)
    except (KeyError, TypeError, ValueError) as e:
        raise PinError(f"{path}: missing or bad field {e}") from None
    if pin.board_type != board_type:
        raise PinError(f"{path}: board_type says {pin.board_type!r}, the file name {board_type!r}")
    if pin.sha256 is not None and not SHA256.match(pin.sha256):
        raise PinError(f"{path}: sha256 must be 64 lowercase hex digits")
    if "/" in pin.file or not pin.file.endswith(".bin"):
        raise PinError(f"{path}: file must be a plain .bin name")
    return pin


def all_pins(directory: Path | None = None) -> list[Pin]:
    d = directory or pins_dir()
    return [load(p.stem, d) for p in sorted(d.glob("*.json"))]


def record_sha256(pin: Pin, sha256: str) -> None:
    """Pin a vetted image's hash into the pin file (atomically)."""
    raw = json.loads(pin.path.read_text())
    raw["sha256"] = sha256
    tmp = pin.path.with_name(pin.path.name + ".tmp")
    tmp.write_text(json.dumps(raw, indent=2) + "\n")
    os.replace(tmp, pin.path)
