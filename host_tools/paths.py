"""Where the project's parts live: the tools work from a checkout."""
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
BOARD_CONFIGS = REPO / "board_configs"


def state_home() -> Path:
    """Per-user state (vboards, broker runs); PILOTLIGHT_HOME overrides it."""
    return Path(os.environ.get("PILOTLIGHT_HOME") or Path.home() / ".pilotlight")


def firmware_module(name: str):
    """Import a pure-logic firmware module (shared with the board) on CPython."""
    if str(FIRMWARE) not in sys.path:
        sys.path.append(str(FIRMWARE))
    return __import__("lampctl." + name, fromlist=[name])


def venv_command(name: str) -> str | None:
    """A command installed beside this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)
