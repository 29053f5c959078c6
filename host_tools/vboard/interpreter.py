"""The vboard's interpreter: MicroPython v1.28.0's unix port built the ESP32's
shape (32-bit words and GC blocks, 31-bit small ints, single-precision floats,
`sys.platform` 'esp32') with the ESP32 shims frozen in.

It is built once per set of inputs (source, shims, manifest, flags) into a
cache shared by every checkout and CI run on the machine, and rebuilt only when
one of them changes. Where a 32-bit build is impossible, the PyPI interpreter
stands in, with one loud warning that heap and float figures are approximate.

    python -m host_tools.vboard.interpreter     # build now (make setup does)
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..paths import REPO, venv_command

HERE = Path(__file__).resolve().parent
SHIMS = HERE / "shims"
MANIFEST = HERE / "manifest.py"
RELEASE = "1.28.0"
TARBALL = f"micropython-{RELEASE}-src.tar.xz"
TARBALL_SHA256 = "ed31aa5d489525680de9473066e7a41ed7ab5505d91a62249d353fb8b3854d1c"
GIT_URL = "https://github.com/micropython/micropython.git"
MAKE_ARGS = (
    "VARIANT=standard", "MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0",
    'CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT -DMICROPY_PY_SYS_PLATFORM=\\"esp32\\"',
)
# The unix port's ROMFS is an empty constant; the vboard's is a partition
# mapped from a file, as the chip maps its flash (romfs_partition.c).
_UNIX_ROMFS = """static uint8_t romfs_buf[4] = { 0xd2, 0xcd, 0x31, 0x00 }; // empty ROMFS
static const MP_DEFINE_MEMORYVIEW_OBJ(romfs_obj, 'B', 0, sizeof(romfs_buf), romfs_buf);

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    switch (mp_obj_get_int(args[0])) {
        case MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS:
            return MP_OBJ_NEW_SMALL_INT(1);

        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&romfs_obj);
    }

    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}
"""
# A UART keeps what arrives while the board boots; the unix port's REPL
# flushes its terminal's input on entry (TCSAFLUSH), which loses what a tool
# such as mpremote sends right after a reset or a Ctrl-C (the Ctrl-A for the
# raw REPL). The vboard's build keeps it, as the chip does.
#
# Ctrl-C on the chip is raised between bytecodes (the UART's interrupt only
# schedules it). This unix build (threads without a GIL) raised it from the
# SIGINT handler, inside whatever C code ran: caught in a garbage collection it
# left the heap locked for good ('heap is locked', then a fatal NLR). The
# vboard's build schedules it as the chip does, and a second Ctrl-C while the
# first waits is not an exit (the unix REPL's "die straight away"), as on a UART.
_SECOND_CTRL_C_EXITS = """        if (MP_STATE_MAIN_THREAD(mp_pending_exception) == MP_OBJ_FROM_PTR(&MP_STATE_VM(mp_kbd_exception))) {
            // this is the second time we are called, so die straight away
            exit(1);
        }
"""
# `time.vboard_skip_ms(ms)`: how the board's event thread applies a jump.
_SKIP_MS = """extern void mp_vboard_skip_ms(uint32_t ms);
static mp_obj_t mod_time_vboard_skip_ms(mp_obj_t ms) {
    mp_vboard_skip_ms(mp_obj_get_int(ms));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_time_vboard_skip_ms_obj, mod_time_vboard_skip_ms);

"""
PATCHES = (
    ("ports/unix/unix_mphal.c", "tcsetattr(0, TCSAFLUSH, &termios);", "tcsetattr(0, TCSANOW, &termios);"),
    ("ports/unix/unix_mphal.c", "tcsetattr(0, TCSAFLUSH, &orig_termios);", "tcsetattr(0, TCSANOW, &orig_termios);"),
    ("ports/unix/variants/mpconfigvariant_common.h", "#define MICROPY_ASYNC_KBD_INTR         (!MICROPY_PY_THREAD_GIL)",
     "#define MICROPY_ASYNC_KBD_INTR         (0)"),
    ("ports/unix/unix_mphal.c", _SECOND_CTRL_C_EXITS, ""),
    ("ports/unix/variants/mpconfigvariant_common.h", "#define MICROPY_VFS_ROM_IOCTL          (0)",
     "#define MICROPY_VFS_ROM_IOCTL          (1)"),
    ("ports/unix/main.c", _UNIX_ROMFS, (HERE / "romfs_partition.c").read_text()),
    # Compressed time (time_skip.c): the rig jumps the board's ticks over idle hours.
    ("ports/unix/unix_mphal.c", "#ifndef mp_hal_ticks_ms\n", (HERE / "time_skip.c").read_text() + "#ifndef mp_hal_ticks_ms\n"),
    ("ports/unix/unix_mphal.c", "return tv.tv_sec * 1000 + tv.tv_nsec / 1000000;",
     "return tv.tv_sec * 1000 + tv.tv_nsec / 1000000 + vboard_skipped_ms;"),
    ("ports/unix/unix_mphal.c", "return tv.tv_sec * 1000000 + tv.tv_nsec / 1000;",
     "return tv.tv_sec * 1000000 + tv.tv_nsec / 1000 + vboard_skipped_ms * 1000u;"),
    ("ports/unix/modtime.c", "#define MICROPY_PY_TIME_EXTRA_GLOBALS \\\n", _SKIP_MS + "#define MICROPY_PY_TIME_EXTRA_GLOBALS \\\n"
     "    { MP_ROM_QSTR(MP_QSTR_vboard_skip_ms), MP_ROM_PTR(&mod_time_vboard_skip_ms_obj) }, \\\n"),
)
# Bump when the way of building changes in a way the inputs above do not show.
RECIPE = "2"


@dataclass(frozen=True)
class Interpreter:
    path: str
    esp32_shaped: bool       # 32-bit, single precision, shims frozen in
    word_bytes: int          # 4 on the ESP32-shaped build


class BuildError(Exception):
    """The ESP32-shaped interpreter could not be built; the message says why."""


def cache_root() -> Path:
    if os.environ.get("PILOTLIGHT_CACHE"):
        return Path(os.environ["PILOTLIGHT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pilotlight"


def source_tarball() -> Path | None:
    """The release tarball beside the checkout (../shared/), or the machine's shared copy."""
    for shared in (REPO.parent / "shared", Path("/work/shared")):
        candidate = shared / "micropython" / TARBALL
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def build_key() -> str:
    """A hash of everything the binary is made from."""
    tarball = source_tarball()
    h = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    h.update((f"tarball {_sha256(tarball)}" if tarball else f"git v{RELEASE}").encode())
    h.update(repr((MAKE_ARGS, PATCHES)).encode())
    h.update(MANIFEST.read_bytes())
    for shim in sorted(SHIMS.glob("*.py")):
        h.update(shim.name.encode() + b"\0" + shim.read_bytes())
    return h.hexdigest()[:16]


def can_build_32bit() -> str | None:
    """None when gcc can make a 32-bit Linux program here, else why not."""
    if sys.platform != "linux":
        return f"a 32-bit unix build needs Linux (this is {sys.platform})"
    if not shutil.which("gcc") or not shutil.which("make"):
        return "gcc and make are needed"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("#include <stdio.h>\nint main(void){return sizeof(void*)!=4;}\n")
        run = subprocess.run(["gcc", "-m32", str(src), "-o", str(Path(tmp) / "t")], capture_output=True, text=True)
        if run.returncode:
            return "gcc -m32 cannot link (install gcc-multilib)"
    return None


def _source(root: Path, log) -> Path:
    """The source tree, unpacked once per release and kept for incremental builds."""
    tarball = source_tarball()
    ident = (_sha256(tarball)[:12] if tarball else f"git-v{RELEASE}") + "-" + \
        hashlib.sha256(repr(PATCHES).encode()).hexdigest()[:8]
    home = root / f"src-{ident}"
    src = home / f"micropython-{RELEASE}"
    if (home / ".complete").exists():
        return src
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    if tarball:
        if _sha256(tarball) != TARBALL_SHA256:
            raise BuildError(f"{tarball} is not the v{RELEASE} release tarball (sha256 differs)")
        subprocess.run(["tar", "xJf", str(tarball), "-C", str(home)], check=True)
    else:
        print(f"no {TARBALL} beside the checkout: taking v{RELEASE} and its unix submodules from git",
              file=sys.stderr)
        run = lambda *cmd: subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)  # noqa: E731
        run("git", "clone", "-q", "--depth", "1", "--branch", f"v{RELEASE}", GIT_URL, str(src))
        run("make", "-C", str(src / "ports/unix"), "submodules")
    for rel, old, new in PATCHES:
        path = src / rel
        text = path.read_text()
        if old not in text:
            raise BuildError(f"cannot patch {rel}: {old!r} is not there")
        path.write_text(text.replace(old, new))
    (home / ".complete").touch()
    return src


def _build(root: Path, target: Path, log) -> None:
    src = _source(root, log)
    # One object folder per set of make flags: a changed shim or manifest only
    # regenerates the frozen code and relinks (seconds, not minutes).
    objs = root / ("obj-" + src.parent.name + "-" + hashlib.sha256(repr(MAKE_ARGS).encode()).hexdigest()[:8])
    jobs = f"-j{min(os.cpu_count() or 1, 2)}"
    make = lambda *args: subprocess.run(["make", jobs, *args], check=True, stdout=log,  # noqa: E731
                                        stderr=subprocess.STDOUT)
    make("-C", str(src / "mpy-cross"))
    make("-C", str(src / "ports/unix"), *MAKE_ARGS, f"BUILD={objs}", f"FROZEN_MANIFEST={MANIFEST}")
    staged = Path(tempfile.mkdtemp(dir=root))
    staged.chmod(0o755)
    shutil.copy2(objs / "micropython", staged / "micropython")
    (staged / "build.json").write_text(json.dumps({"release": RELEASE, "make": MAKE_ARGS}, indent=2))
    os.replace(staged, target)


def ensure_built(quiet: bool = False) -> Path:
    """The cached ESP32-shaped binary, built first if its inputs changed."""
    root = cache_root()
    target = root / f"micropython-{RELEASE}-esp32-{build_key()}"
    binary = target / "micropython"
    if binary.is_file():
        return binary
    why = can_build_32bit()
    if why:
        raise BuildError(why)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one build at a time; the others then find it built
        if binary.is_file():
            return binary
        if not quiet:
            print(f"building the ESP32-shaped MicroPython v{RELEASE} interpreter into {target} (about 2 minutes)",
                  file=sys.stderr)
        log_path = root / "build.log"
        with open(log_path, "w") as log:
            try:
                _build(root, target, log)
            except (subprocess.CalledProcessError, OSError) as e:
                raise BuildError(f"building MicroPython v{RELEASE} failed ({e}); see {log_path}") from None
    return binary


_warned = False


@lru_cache(maxsize=None)
def interpreter() -> Interpreter:
    """The interpreter vboards and firmware tests run on."""
    try:
        return Interpreter(str(ensure_built()), True, 4)
    except BuildError as e:
        fallback = venv_command("micropython")
        if not fallback:
            raise
        _warn_once(str(e))
        return Interpreter(fallback, False, 8)


def _warn_once(why: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"WARNING: no ESP32-shaped interpreter ({why}); using the PyPI 64-bit, double-precision "
              "MicroPython: heap and float figures are APPROXIMATE, not what an ESP32 would show", file=sys.stderr)


def main() -> None:
    try:
        print(ensure_built())
    except BuildError as e:
        _warn_once(str(e))


if __name__ == "__main__":
    main()
