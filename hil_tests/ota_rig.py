"""What the OTA acceptance tests share: a release store with a base release
and variants of it (each one changed module, re-signed), the release server
the way an operator starts it, and boards provisioned with the base release."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hil_tests.support.firmware import copy_bundle
from host_tools.firmware_build import MANIFEST, SIGNATURE, build, mpy_cross_binary
from host_tools.paths import FIRMWARE
from host_tools.release import build as builds
from host_tools.release import keys
from host_tools.release.build import Release

PILOTLIGHT = [sys.executable, "-m", "host_tools"]


class Store:
    """A release key and a release store in a temp folder."""

    def __init__(self, root: Path):
        self.root = root
        self.releases = root / "releases"
        keys.keygen(root / "key")
        self.key = keys.load_private(root / "key" / keys.PRIVATE)
        self.public_hex = keys.load_public_hex(root / "key" / keys.PUBLIC)

    def build(self) -> Release:
        return builds.build_release(self.releases, self.key)

    def variant(self, base: Release, number: int, changes: dict[str, str], key=None,
                downgrade_from: int | None = None, version: str | None = None) -> Release:
        """`base` with some modules' source replaced ({"lampctl/app.py": text}), signed as `number`."""
        folder = self.releases / str(number)
        shutil.copytree(base.path, folder)
        for rel, text in changes.items():
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / rel
                src.parent.mkdir(parents=True)
                src.write_text(text)
                dest = (folder / rel).with_suffix(".mpy")
                dest.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run([mpy_cross_binary(), "-o", str(dest), "-s", rel, str(src)], check=True)
        self.resign(folder, number, version or base.version, key, downgrade_from)
        return builds.load(self.releases, number)

    def resign(self, folder: Path, number: int, version: str, key=None, downgrade_from: int | None = None) -> None:
        """Write the folder's manifest from the files it holds and sign it."""
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
        listed = [[p.relative_to(folder).as_posix(), p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()]
                  for p in files]
        data = builds.manifest_bytes(version, number, listed, downgrade_from)
        (folder / MANIFEST).write_bytes(data)
        (folder / SIGNATURE).write_bytes((key or self.key).sign(data))

    def with_version(self, base: Release, number: int, version: str) -> Release:
        """The one-file change: the same app reporting another version."""
        text = source("lampctl/__init__.py").replace('VERSION = "%s"' % base.version, 'VERSION = "%s"' % version)
        assert version in text
        return self.variant(base, number, {"lampctl/__init__.py": text}, version=version)


def source(rel: str) -> str:
    return (FIRMWARE / rel).read_text()


class Server:
    """`pilotlight release serve` in a subprocess, on a free port."""

    def __init__(self, releases: Path, rate: int | None = None):
        args = [*PILOTLIGHT, "release", "serve", "--releases", str(releases), "--port", "0", "--json", "--log"]
        if rate:
            args += ["--rate", str(rate)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"release serve failed: {self.proc.stderr.read()}")
        self.url = json.loads(line)["url"]
        self.requests: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.requests.append(line.strip())

    def wait_request(self, predicate, timeout: float = 30.0) -> str:
        """The first request line (`GET /2/lampctl/x.mpy 206 from=N bytes=M`) matching predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.requests):
                if predicate(line):
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"no such request within {timeout}s; served: {self.requests[-6:]}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def provision(board, tmp: Path, config: dict, release: Release, public_hex: str) -> None:
    """Write a board's flash as `pilotlight provision --release` does: loader, the
    release in slot a, config.json and the release key."""
    out = tmp / f"flash-{board.name}"
    build(out, release=release.path)
    (out / "config.json").write_text(json.dumps(config))
    (out / "ota.pub").write_text(public_hex + "\n")
    copy_bundle(board.port, out)
