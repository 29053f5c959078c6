"""The HIL suite: `--target virtual` (default, vboards on this machine) or
`--target serial --port PORT ...` (real boards on a rig)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hil_tests.rig.virtual import VirtualRig

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--target", choices=["virtual", "serial"], default="virtual", help="where the boards are")
    parser.addoption("--port", action="append", default=[], help="a real board's serial port (serial target)")


def pytest_configure(config):
    config.addinivalue_line("markers", "virtual_only: needs the vboard's control channel (simulated peripherals)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--target") == "serial":
        skip = pytest.mark.skip(reason="needs simulated peripherals: run with --target virtual")
        for item in items:
            if "virtual_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def rig(tmp_path):
    r = VirtualRig(tmp_path / "home")
    yield r
    r.stop()


def mpremote(port: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """The real mpremote CLI against a port, without its soft reset on connect."""
    run = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", *args],
                         capture_output=True, text=True, timeout=timeout)
    if check and run.returncode:
        raise AssertionError(f"mpremote {' '.join(args)} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return run


def render_config(board_type: str = "esp32-devkitc", **settings) -> dict:
    from host_tools.boards import load_board_type
    return {"board": load_board_type(board_type), **settings}


def firmware_bundle(tmp: Path, config: dict) -> Path:
    """The compiled firmware and its config, as they go onto a board."""
    from host_tools.firmware_build import build
    bundle = tmp / "bundle"
    build(bundle)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def deploy_firmware(port: str, tmp: Path, config: dict) -> None:
    """Copy the firmware bundle onto a board with mpremote, as over USB."""
    bundle = firmware_bundle(tmp, config)
    entries = sorted(p.name for p in bundle.iterdir())
    run = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", "fs", "cp", "-r", *entries, ":"],
                         cwd=bundle, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
