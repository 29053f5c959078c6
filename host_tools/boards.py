"""Board types from board_configs/, validated with the firmware's own rules."""
import json
from pathlib import Path

from .paths import BOARD_CONFIGS, firmware_module


class BoardTypeError(Exception):
    pass


def board_types() -> list[str]:
    return sorted(p.stem for p in BOARD_CONFIGS.glob("*.json"))


def load_board_type(name: str, directory: Path = BOARD_CONFIGS) -> dict:
    path = directory / f"{name}.json"
    if not path.is_file():
        raise BoardTypeError(f"unknown board type {name!r} (known: {', '.join(board_types())})")
    return load_board_file(path)


def load_board_file(path: Path) -> dict:
    bc = firmware_module("board_config")
    try:
        cfg = json.loads(path.read_text())
    except OSError as e:
        raise BoardTypeError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise BoardTypeError(f"{path}: line {e.lineno} column {e.colno}: {e.msg}") from None
    try:
        return bc.validate_board(cfg)
    except bc.ConfigError as e:
        raise BoardTypeError(f"{path}: {e}") from None
