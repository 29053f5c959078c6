"""The virtual rig: `pilotlight vboard run` in a subprocess, the way a user
starts it, with boards reached over their ptys and their control channels."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from host_tools.vboard.control import VBoardClient

PILOTLIGHT = [sys.executable, "-m", "host_tools"]


@dataclass
class RigBoard:
    name: str
    port: str
    flash: Path
    home: Path
    unique_id: str = ""

    def control(self) -> VBoardClient:
        return VBoardClient(self.name, self.home)


class VirtualRig:
    def __init__(self, home: Path):
        self.home = home
        self.procs: list[subprocess.Popen] = []

    def start(self, name="vb", count=1, board_type="esp32-devkitc", heap=None, baud=None,
              timeout=60.0, extra=()) -> list[RigBoard]:
        args = [*PILOTLIGHT, "vboard", "run", "--name", name, "--count", str(count), "--board-type", board_type,
                "--home", str(self.home), "--json", *extra]
        if heap:
            args += ["--heap", heap]
        if baud:
            args += ["--baud", str(baud)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        deadline = time.monotonic() + timeout
        line = proc.stdout.readline()
        if not line:
            proc.wait(5)
            raise RuntimeError(f"vboard run failed ({proc.returncode}): {proc.stderr.read()}")
        ready = json.loads(line)["ready"]
        assert time.monotonic() < deadline
        return [RigBoard(b["name"], b["port"], Path(b["flash"]), self.home, b["unique_id"]) for b in ready]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL) if False else proc.kill()
                proc.wait()
        self.procs.clear()
