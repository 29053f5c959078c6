"""The virtual rig: `pilotlight vboard run` in a subprocess, the way a user
starts it, with boards reached over their ptys and their control channels."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from hil_tests.rig.base import Rig, RigBoard
from hil_tests.rig.capabilities import CAPABILITIES
from hil_tests.support.console import Console
from host_tools.vboard.control import ControlError, VBoardClient
from host_tools.vboard.flash import ROMFS_BYTES, FlashImage
from host_tools.vboard.host import names

PILOTLIGHT = [sys.executable, "-m", "host_tools"]


class VirtualRig(Rig):
    target = "virtual"
    capabilities = frozenset(CAPABILITIES)  # the vboard simulates every peripheral

    def __init__(self, home: Path):
        self.home = Path(home)
        self.procs: list[subprocess.Popen] = []
        self.started: list[RigBoard] = []
        self._console_from: dict[str, int] = {}

    def start(self, name="vb", count=1, board_type="esp32-devkitc", heap=None, baud=None, timeout=60.0,
              extra=(), files: dict[str, bytes | str] | None = None, romfs: bytes | None = b"") -> list[RigBoard]:
        """Boards up and at their REPL (or app); `files` go onto each one's flash first.
        Each runs the firmware the app is made for, with a ROMFS partition (`romfs`
        is what it holds: erased unless a test says; the loader copies the app into
        it), and the firmware's heap budget unless a test asks for another; `romfs`
        None: a stock image, without one."""
        for n in names(name, count) if files else ():
            image = self.home / "vboards" / n / "flash.img"
            image.parent.mkdir(parents=True, exist_ok=True)
            write_flash(image, files)
        if romfs is not None and len(romfs) > ROMFS_BYTES:
            raise ValueError(f"a ROMFS image of {len(romfs)} bytes does not fit the {ROMFS_BYTES}-byte partition")
        for n in names(name, count) if romfs is not None else ():
            partition = self.home / "vboards" / n / "flash.romfs"
            partition.parent.mkdir(parents=True, exist_ok=True)
            partition.write_bytes(romfs.ljust(ROMFS_BYTES, b"\xff"))
        if romfs is not None:
            extra = (*extra, "--romfs")
        args = [*PILOTLIGHT, "vboard", "run", "--name", name, "--count", str(count), "--board-type", board_type,
                "--home", str(self.home), "--json", *(("--heap", heap) if heap else ()), *extra]
        if baud:
            args += ["--baud", str(baud)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        try:
            line = _readline(proc, timeout)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"vboard run: no board ready within {timeout}s") from None
        if not line:
            proc.wait(5)
            raise RuntimeError(f"vboard run failed ({proc.returncode}): {proc.stderr.read()}")
        ready = json.loads(line)["ready"]
        boards = [RigBoard(b["name"], b["port"], b["unique_id"], Path(b["flash"]), self) for b in ready]
        self.started += boards
        return boards

    def control_for(self, board: RigBoard) -> VBoardClient:
        return VBoardClient(board.name, self.home)

    def read_flash(self, board: RigBoard, path: str) -> bytes:
        with FlashImage(board.flash) as f:   # a snapshot: the board may be running
            return f.read(path)

    def flash_files(self, board: RigBoard) -> dict[str, int]:
        with FlashImage(board.flash) as f:
            return f.files()

    def rewrite_flash(self, board: RigBoard, files: dict[str, bytes | str | None]) -> None:
        with self.control_for(board) as c:
            c.power_cut()
            write_flash(board.flash, files)
            c.power_on()
            c.wait_for(lambda s: s["running"], what="boot after rewriting the flash")

    def console_for(self, board: RigBoard) -> Console:
        client = self.control_for(board)
        return Console(board.name, client.console)

    def console_logs(self) -> dict[str, str]:
        logs = {}
        for b in self.started:
            try:
                with self.control_for(b) as c:
                    logs[b.name] = c.console(0)[0]
            except (ControlError, OSError) as e:
                logs[b.name] = f"(console not readable: {e})"
        return logs

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                stream.close()
        self.procs.clear()


def write_flash(image: Path, files: dict[str, bytes | str | None]) -> None:
    """Write (None removes) files into a flash image whose board is off."""
    with FlashImage(image) as f:
        for path, data in files.items():
            if data is None:
                f.remove(path)
            else:
                f.write(path, data)


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    """The first line `vboard run` prints (its ready report), within timeout."""
    import selectors
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError
    return proc.stdout.readline()
