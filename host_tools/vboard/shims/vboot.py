# What the board's ROM and MicroPython do between reset and the REPL: load the
# peripherals, mount the flash at /, run boot.py then (unless this is a soft
# reset from the raw REPL) main.py. `micropython -i` then gives the REPL.
import sys
import uos

# The shims live outside the flash, so load them all before / becomes the flash.
for _m in ("_vbus", "machine", "network", "ntptime", "time", "socket", "esp32", "esp", "os"):
    __import__(_m)
del _m

uos.mount(uos.VfsPosix(uos.getenv("VBOARD_FLASH")), "/")
uos.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]


def _vboot_run(name):
    try:
        src = open(name).read()
    except OSError:
        return
    try:
        exec(compile(src, name, "exec"), globals())
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    except Exception as e:
        sys.print_exception(e)


_vboot_run("boot.py")
if uos.getenv("VBOARD_MODE") != "raw":
    _vboot_run("main.py")
del _vboot_run
