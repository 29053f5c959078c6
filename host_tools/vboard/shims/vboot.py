# What the board's ROM and the esp32 port's frozen _boot.py do between reset
# and the REPL: mount the flash partition (LittleFS) at /, making it first on a
# fresh chip, then run boot.py and (unless this is a soft reset from the raw
# REPL) main.py in the REPL's globals. `micropython -i` then gives the REPL.
import sys
import uos
import vfs

# Shims frozen into the interpreter sit on .frozen/shims; the PyPI stand-in has
# them on a host folder that the flash is about to hide, so it loads them now.
_SHIMS = sys.path[1]
if not _SHIMS.startswith(".frozen"):
    for _m in ("_vbus", "machine", "network", "ntptime", "time", "socket", "esp32", "esp", "os"):
        __import__(_m)
from flashbdev import bdev

vfs.umount("/")
try:
    vfs.mount(vfs.VfsLfs2(bdev), "/")
except OSError:  # blank or unreadable flash: what the esp32 port's inisetup does
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), "/")
    if uos.getenv("VBOARD_INISETUP") == "1":  # a board flashed with a MicroPython image
        print("Performing initial setup")
        with open("/boot.py", "w") as _f:
            _f.write("# This file is executed on every boot (including wake-boot from deepsleep)\n"
                     "#import esp\n#esp.osdebug(None)\n#import webrepl\n#webrepl.start()\n")
        del _f
uos.chdir("/")
# As on the chip: the interpreter's start mounted a ROMFS at /rom if the board has one.
try:
    uos.stat("/rom")
    _ROM = ["/rom", "/rom/lib"]
except OSError:
    _ROM = []
sys.path[:] = ["", ".frozen"] + _ROM + ["/lib"] + ([_SHIMS] if _SHIMS.startswith(".frozen") else [])


def _run(name):
    # Closed here, not by its finaliser: a finaliser runs at a garbage collection,
    # which the flash driver's Python code can start in the middle of a littlefs
    # operation, and littlefs re-entered that way loops forever on its open-file list.
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return
    try:
        exec(compile(src, name, "exec"), _main)
    except BaseException as e:
        if isinstance(e, SystemExit):
            raise
        sys.print_exception(e)


import __main__
_main = __main__.__dict__
_run("boot.py")
if uos.getenv("VBOARD_MODE") != "raw":
    _run("main.py")
del _run, _main
