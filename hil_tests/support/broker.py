"""A Mosquitto of the test's own, on a free loopback port, its traffic recorded."""
from __future__ import annotations

import contextlib
from pathlib import Path

from hil_tests.support import traffic
from host_tools.broker.mosquitto import Mosquitto


@contextlib.contextmanager
def running_broker(conf_dir: Path, extra=("persistence true",)):
    """A started broker (anonymous, persistent across its own restarts) whose
    every message is recorded for the test's report; stopped afterwards."""
    broker = Mosquitto(conf_dir, extra=list(extra)).start()
    try:
        traffic.record(broker.port)
        yield broker
    finally:
        broker.stop()


def provision_args(broker) -> list[str]:
    """`pilotlight provision` options for where the boards' accounts go before
    the self-test logs in: a Mosquitto's files and its reload, or the broker's
    own load command."""
    where = ["--broker-host", "127.0.0.1", "--broker-port", str(broker.port)]
    if hasattr(broker, "reload_command"):
        return where + ["--broker-reload", broker.reload_command]
    return where + ["--broker-dir", str(broker.files.directory), "--broker-reload", f"kill -HUP {broker.proc.pid}"]
