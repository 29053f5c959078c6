"""The firmware onto a board, and mpremote against its port, as over USB."""
from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hil_tests.support.console import released
from host_tools.provision import transfer
from host_tools.provision.session import MAINTENANCE_FLAG, Session


def mpremote(port, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """The real mpremote CLI against a port, without its soft reset on connect.
    The rig's console reader (serial target) lets go of the port meanwhile."""
    cmd = [sys.executable, "-m", "mpremote", "connect", str(port), "resume", *args]
    with released(str(port)):
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and run.returncode:
        raise AssertionError(f"mpremote {' '.join(args)} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return run


def firmware_bundle(tmp: Path, config: dict) -> Path:
    """The compiled firmware and its config, as they go onto a board."""
    bundle = tmp / "bundle"
    shutil.copytree(_compiled(), bundle, dirs_exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


_builds: dict[tuple, Path] = {}


def _compiled() -> Path:
    """The firmware compiled once per test process and firmware source (mpy-cross
    takes a second a build; a changed source file builds afresh)."""
    from host_tools.firmware_build import build, sources
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sources())
    if key not in _builds:
        out = Path(tempfile.mkdtemp(prefix="hil-firmware-"))
        atexit.register(shutil.rmtree, out, True)
        build(out)
        _builds[key] = out
    return _builds[key]


def bundle_files(bundle: Path) -> dict[str, bytes]:
    """{board path: bytes} of every file of a bundle, as they go onto the board's flash."""
    return {p.relative_to(bundle).as_posix(): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()}


def copy_bundle(port, bundle: Path) -> None:
    """Every file of a bundle onto the board's flash, through the provisioning tool's own sync
    (compressed, hash-checked: mpremote's `fs cp` takes several times longer). The board is
    left at its REPL with the app stopped, as `mpremote fs cp` would leave it."""
    files = bundle_files(bundle)
    with released(str(port)), Session(str(port)) as session:
        session.enter_maintenance()
        transfer.sync(session, files)
        # the board without its maintenance flag, as `session.leave()` leaves it (gone already is fine)
        session.exec(f"import os\ntry:\n os.remove({MAINTENANCE_FLAG!r})\nexcept OSError:\n pass")
        session.transport.exit_raw_repl()    # out of the raw REPL: the app starts at the next reset


def deploy_firmware(port, tmp: Path, config: dict) -> None:
    """Copy the firmware bundle and its config onto a board, as over USB."""
    copy_bundle(port, firmware_bundle(tmp, config))
