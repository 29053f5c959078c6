# ESP32 `time` for the vboard: the board's own clock, kept by the supervisor
# as an offset from the host clock (it survives soft and watchdog resets, and
# restarts at 2000-01-01 after a power cut, as on a board without a backup
# battery). Epoch 2000-01-01 as on the esp32 port; localtime() is UTC there.
from utime import sleep, sleep_ms, sleep_us, ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff
import utime
import uos
import _vbus

_EPOCH_2000 = 946684800
_offset_ns = int(uos.getenv("VBOARD_CLOCK_OFFSET_NS") or 0)
# time() as the chip's C code gives it, without allocating: whole seconds
# since 2000 (a small int until 2034) counted from an anchor on ticks_ms,
# taken again when the clock is set and once a day (ticks_diff's range is 6 days).
_DAY_MS = 86400000
_anchor_s = 0
_anchor_t = 0


def _anchor():
    global _anchor_s, _anchor_t
    t = ticks_ms()
    ms = _board_ns() // 1000000
    _anchor_s = ms // 1000
    _anchor_t = ticks_add(t, -(ms % 1000))  # seconds roll over on the board's second boundaries


def _clock(args):
    global _offset_ns
    _offset_ns = int(args[0])
    _anchor()


def _board_ns():
    # nanoseconds since the 2000 epoch
    return utime.time_ns() + _offset_ns - _EPOCH_2000 * 1000000000


def _set_board_ns(ns):
    global _offset_ns
    _offset_ns = ns + _EPOCH_2000 * 1000000000 - utime.time_ns()
    _anchor()
    _vbus.call("CLOCK %d" % _offset_ns)


def time():
    d = ticks_diff(ticks_ms(), _anchor_t)
    if d >= _DAY_MS or d < 0:
        _anchor()
        d = ticks_diff(ticks_ms(), _anchor_t)
    return _anchor_s + d // 1000


def _skip(args):
    # a jump of the board's time by the rig (compressed time, time_skip.py):
    # the ticks move first, so time() moves with them even before the re-anchor
    global _offset_ns
    utime.vboard_skip_ms(int(args[0]))
    _offset_ns = int(args[1])
    _anchor()
    _vbus.call("SKIPPED")


_anchor()
_vbus.on("CLOCK", _clock)
_vbus.on("SKIP", _skip)


def time_ns():
    return _board_ns()


def gmtime(secs=None):
    if secs is None:
        secs = time()
    return utime.gmtime(secs + _EPOCH_2000)[:8]


localtime = gmtime


def mktime(t):
    return utime.mktime(t) - _EPOCH_2000
