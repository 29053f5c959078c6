# `os` for the vboard: the built-in, with rename() taking absolute paths as it
# does on the board's flash (the unix port's VfsPosix mounted at / does not).
from uos import *
import uos


def _rel(path):
    return path.lstrip("/") if path.startswith("/") and getcwd() == "/" else path


def rename(old, new):
    uos.rename(_rel(old), _rel(new))


def uname():
    return ("esp32", "esp32", "1.29.0", "vboard", "ESP32 module (vboard) with ESP32")
