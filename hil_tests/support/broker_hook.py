"""A `pilotlight provision --broker-reload` command for a broker the test runs
in its own process (the RabbitMQ cluster): the command asks through a folder
and waits; a thread of the test answers by loading the inventory's accounts.

    with BrokerHook(tmp_path / "hook", lambda: cluster.load(...)) as hook:
        provision(..., "--broker-reload", hook.command)
"""
from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

WAIT_S = 170


class BrokerHook:
    def __init__(self, directory: Path, load):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.command = f"{sys.executable} -m hil_tests.support.broker_hook {self.directory}"
        self._load, self._stop = load, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.wait(0.05):
            for req in sorted(self.directory.glob("*.req")):
                try:
                    self._load()
                    said = "ok"
                except Exception as e:  # told to the waiting command, which fails with it
                    said = f"{type(e).__name__}: {e}"
                # whole or not at all: the command polls for .done and reads it at once,
                # and a plain write_text creates the file empty before it writes "ok"
                partial = req.with_suffix(".part")
                partial.write_text(said)
                partial.replace(req.with_suffix(".done"))
                req.unlink()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def main(directory: str) -> int:
    req = Path(directory) / f"{uuid.uuid4().hex}.req"
    req.write_text("")
    done = req.with_suffix(".done")
    deadline = time.monotonic() + WAIT_S
    while not done.exists():
        if time.monotonic() > deadline:
            print("the broker hook did not answer", file=sys.stderr)
            return 1
        time.sleep(0.05)
    said = done.read_text()
    if said != "ok":
        print(said, file=sys.stderr)
    return 0 if said == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
