# `os` for the vboard: the built-in, with rename() taking absolute paths as it
# does on the board's flash (the unix port's VfsPosix mounted at / does not).
from uos import *
import uos


def _rel(path):
    return path.lstrip("/") if path.startswith("/") and getcwd() == "/" else path


def rename(old, new):
    uos.rename(_rel(old), _rel(new))


from collections import namedtuple

_uname = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))


def uname():
    # the MicroPython release in the board's flash image (the ROM read it from the app description)
    release = (getenv("VBOARD_MPY_VERSION") or "1.28.0").lstrip("v")
    return _uname("esp32", "esp32", release, "v%s on 2026-04-06" % release, "Generic ESP32 module with ESP32")
