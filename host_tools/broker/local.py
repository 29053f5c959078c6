"""A throw-away Mosquitto on a free loopback port, running the fleet's generated
accounts and ACL: for tests and demos (the `Mosquitto` helper manages the process)."""
from __future__ import annotations

import getpass
import os
import signal
from pathlib import Path

from ..inventory.db import Inventory
from .config import BrokerFiles, BrokerSettings, general_lines, listener_lines, tls_listener_lines, write_broker_files
from .mosquitto import Mosquitto, free_port


class LocalBroker(Mosquitto):
    def __init__(self, files: BrokerFiles, settings: BrokerSettings, extra: list[str]):
        super().__init__(files.directory / "local", port=settings.port, extra=extra, anonymous=False)
        self.files = files
        self.settings = settings
        self.tls_port = settings.tls_port

    def reload(self, inv: Inventory) -> None:
        """Rewrite the accounts and ACL from the inventory; Mosquitto rereads them on SIGHUP."""
        write_broker_files(inv, self.files.directory, self.settings)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)


def local_broker(inv: Inventory, directory: Path, tls: bool = False) -> LocalBroker:
    """Write the files into `directory` and return a Mosquitto (not started) that uses them.

        with local_broker(inv, tmp_path) as broker:
            connect to 127.0.0.1:broker.port with a board's account
    """
    # Started by root, Mosquitto would switch to its own account and fail to read the 0600 files.
    settings = BrokerSettings(port=free_port(), tls_port=free_port() if tls else None,
                              run_as=getpass.getuser() if os.geteuid() == 0 else None)
    files: BrokerFiles = write_broker_files(inv, directory, settings)
    extra = [*listener_lines(), *general_lines(files, settings)]
    if tls:
        extra += tls_listener_lines(files, settings)
    return LocalBroker(files, settings, extra)
