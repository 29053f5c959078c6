"""`release build`: the compiled app, its manifest and the manifest's signature.

A release folder holds exactly what a board's app slot holds (docs/ota.md):
    manifest.json   {"format", "version", "release", "files": [[path, size, sha256], ...]}
    manifest.sig    64 bytes: Ed25519 over manifest.json's exact bytes
    lampctl/...     the compiled app
Release numbers only go up: a board refuses a lower one unless the manifest
itself, signed, says which release it may replace (downgrade_from)."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..firmware_build import MANIFEST, SIGNATURE, build_app, firmware_version
from ..paths import FIRMWARE, state_home


class ReleaseError(Exception):
    """A release cannot be built or read as asked; the text says why."""


@dataclass
class Release:
    number: int
    version: str
    path: Path
    sha256: str                 # of manifest.json: what an `ota` command names
    files: int
    bytes: int

    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}

    def command(self, base_url: str, probation_s: int | None = None) -> dict:
        """The body of the `ota` command for this release, served under base_url."""
        cmd = {"version": self.version, "manifest": f"{base_url.rstrip('/')}/{self.number}/{MANIFEST}",
               "sha256": self.sha256}
        if probation_s is not None:
            cmd["probation_s"] = probation_s
        return cmd


def default_dir() -> Path:
    return state_home() / "releases"


def numbers(releases: Path) -> list[int]:
    return sorted(int(p.name) for p in releases.iterdir() if p.name.isdigit()) if releases.is_dir() else []


def load(releases: Path, number: int) -> Release:
    folder = releases / str(number)
    try:
        data = (folder / MANIFEST).read_bytes()
        m = json.loads(data)
    except FileNotFoundError:
        raise ReleaseError(f"release {number}: no {MANIFEST} in {folder}") from None
    except ValueError as e:
        raise ReleaseError(f"{folder / MANIFEST}: not valid JSON ({e})") from None
    return Release(m["release"], m["version"], folder, hashlib.sha256(data).hexdigest(), len(m["files"]),
                   sum(f[1] for f in m["files"]))


def manifest_bytes(version: str, number: int, files: list[list], downgrade_from: int | None = None) -> bytes:
    doc = {"format": 1, "version": version, "release": number}
    if downgrade_from is not None:
        doc["downgrade_from"] = downgrade_from
    doc["files"] = files
    return json.dumps(doc, separators=(",", ":")).encode()


def build_release(releases: Path, key: Ed25519PrivateKey, number: int | None = None, source: Path = FIRMWARE,
                  downgrade_from: int | None = None) -> Release:
    """Compile `source`, sign its manifest, and store it as releases/<number>."""
    existing = numbers(releases)
    latest = existing[-1] if existing else 0
    if number is None:
        number = latest + 1
    if number < 1:
        raise ReleaseError(f"release number {number}: must be 1 or more")
    if number in existing:
        raise ReleaseError(f"release {number} exists in {releases}: release numbers are never reused")
    if number <= latest and downgrade_from is None:
        raise ReleaseError(f"release {number} is not above the latest ({latest}): boards refuse it; "
                           f"give --downgrade-from to sign a deliberate downgrade")
    if downgrade_from is not None and downgrade_from <= number:
        raise ReleaseError(f"--downgrade-from {downgrade_from}: must name a release above {number}")
    releases.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{number}-", dir=releases))
    try:
        app = build_app(tmp, source)
        files = [[p, (tmp / p).stat().st_size, h] for p, h in sorted(app.items())]
        data = manifest_bytes(firmware_version(source), number, files, downgrade_from)
        (tmp / MANIFEST).write_bytes(data)
        (tmp / SIGNATURE).write_bytes(key.sign(data))
        tmp.rename(releases / str(number))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load(releases, number)
