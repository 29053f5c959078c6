"""Load the boards' accounts into the broker before a board's self-test logs in
with its new password: rewrite the broker's passwd and acl files from the
inventory, then have it reread them (Mosquitto: SIGHUP, e.g. `systemctl
reload mosquitto`). Without a files directory the command alone loads them
(a broker that takes its accounts otherwise; it finds the inventory in
$PILOTLIGHT_INVENTORY). Boards provisioned in parallel take turns."""
from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..broker import credentials
from ..broker.acl import acl_text
from ..broker.config import BrokerFiles
from ..broker.files import write_private

_turn = threading.Lock()


class BrokerLoadError(Exception):
    """The broker's files could not be written or it would not reload."""


@dataclass(frozen=True)
class BrokerLoad:
    directory: Path | None   # where `pilotlight broker config` wrote passwd and acl
    reload: str              # a shell command that makes the running broker reread them

    def load(self, inv) -> None:
        with _turn:
            if self.directory is not None:
                self._write(inv)
            env = dict(os.environ, PILOTLIGHT_INVENTORY=str(inv.path))
            try:
                run = subprocess.run(self.reload, shell=True, capture_output=True, text=True, timeout=180, env=env)
            except subprocess.TimeoutExpired:
                raise BrokerLoadError(f"--broker-reload {self.reload!r} did not finish in 180 s") from None
            if run.returncode:
                said = (run.stderr or run.stdout).strip().splitlines()
                raise BrokerLoadError(f"--broker-reload {self.reload!r} failed ({run.returncode})"
                                      + (f": {said[-1]}" if said else ""))

    def _write(self, inv) -> None:
        files = BrokerFiles(self.directory)
        accounts = credentials.list_accounts(inv)
        try:
            credentials.write_passwd_file(files.passwd, accounts)
            write_private(files.acl, acl_text(inv, accounts))
        except OSError as e:
            raise BrokerLoadError(f"broker files in {self.directory}: {e.strerror or e}") from None
