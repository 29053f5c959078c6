# time.ticks_diff/ticks_add for the ESP32's 30-bit millisecond counter, in plain
# arithmetic so that modules taking now_ms (time.ticks_ms()) also run under CPython.
TICKS_PERIOD = 0x40000000


def ticks_diff(a, b):
    """a - b for ms tick counts that wrap at 2**30 (time.ticks_diff's rule)."""
    return ((a - b + TICKS_PERIOD // 2) & (TICKS_PERIOD - 1)) - TICKS_PERIOD // 2


def ticks_add(a, delta):
    return (a + delta) & (TICKS_PERIOD - 1)
