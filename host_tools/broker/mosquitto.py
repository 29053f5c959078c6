"""Start and stop a Mosquitto broker on a free loopback port.

The config is ours (written into `conf_dir`); `extra` lines are appended to
the listener section so callers add auth, ACLs, TLS or persistence.
"""
from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import time
from pathlib import Path


class BrokerError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)
    if not found:
        raise BrokerError("mosquitto is not installed: run `make setup` (it installs the Debian package)")
    return found


def raise_file_limit() -> None:
    """One descriptor per connection: a district's broker needs more than the usual soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Mosquitto:
    def __init__(self, conf_dir: Path, port: int | None = None, extra: list[str] | None = None,
                 anonymous: bool = True, host: str = "127.0.0.1"):
        self.conf_dir = Path(conf_dir)
        self.port = port or free_port()
        self.host = host
        self.extra = extra or []
        self.anonymous = anonymous
        self.proc: subprocess.Popen | None = None
        self.log = self.conf_dir / "mosquitto.log"

    def write_config(self) -> Path:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        conf = self.conf_dir / "mosquitto.conf"
        # Started as root, Mosquitto drops to its own account, which can read
        # neither our 0600 files nor write its persistence here: stay ourselves.
        run_as = [] if os.geteuid() or any(x.startswith("user ") for x in self.extra) else ["user root"]
        lines = [
            *run_as,
            "per_listener_settings false",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            f"persistence_location {self.conf_dir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} {self.host}",
            *self.extra,
        ]
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return conf

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        conf = self.write_config()
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], preexec_fn=raise_file_limit,
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()[-800:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
