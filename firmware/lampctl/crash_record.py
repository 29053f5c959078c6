# The crash record: crashes and watchdog resets in a row, kept in RTC memory
# (it survives machine.reset() and watchdog resets but not a power cut, which
# is a technician's clean start), and the crash log on flash.
# early.py picks safe mode from it; the sensing task clears it once the app
# has run stably. It imports no other part of the app.
import os
import sys

import appslot
import machine

LOG = "crash.log"
LOG_MAX = 2048  # bytes: the first crashes of a series are the telling ones
# RTC memory: MAGIC, then one byte each: crashes in a row, watchdog resets in
# a row, and whether the app was running (so a watchdog reset was the app's).
MAGIC = b"PLc1"
CRASHES, WDT_RESETS, RUNNING = 0, 1, 2


def _record():
    try:
        mem = machine.RTC().memory()
        if len(mem) == len(MAGIC) + 3 and mem[:len(MAGIC)] == MAGIC:
            return bytearray(mem[len(MAGIC):])
    except Exception:
        pass
    return bytearray(3)


def _keep(rec):
    try:
        machine.RTC().memory(MAGIC + bytes(rec))
    except Exception:
        pass  # without the record the board cannot count crashes, but it runs


def _bump(rec, i):
    rec[i] = min(rec[i] + 1, 255)


def crashes():
    """Crashes in a row (app exceptions and watchdog resets while it ran)."""
    return _record()[CRASHES]


def watchdog_resets():
    """Watchdog resets in a row while the app ran, for diagnostics."""
    return _record()[WDT_RESETS]


def count_boot():
    """Once per boot, before the app starts: a watchdog reset that struck the
    running app is counted here, as nothing runs at the moment it strikes."""
    rec = _record()
    if rec[RUNNING]:
        rec[RUNNING] = 0
        if appslot.reset_cause() == machine.WDT_RESET:
            _bump(rec, CRASHES)
            _bump(rec, WDT_RESETS)
        _keep(rec)
    return rec[CRASHES]


def running(flag):
    """The app starts (True) or stops without crashing (False)."""
    rec = _record()
    rec[RUNNING] = 1 if flag else 0
    _keep(rec)


def ran_stably():
    """The app has run long enough: the crashes before it were not 'in a row'."""
    rec = _record()
    if rec[CRASHES] or rec[WDT_RESETS]:
        rec[CRASHES] = rec[WDT_RESETS] = 0
        _keep(rec)


def clear_crashes():
    """For a technician leaving safe mode: the next boot starts the app again.
    The watchdog count stays, so the fleet still hears about the resets."""
    rec = _record()
    rec[CRASHES] = 0
    _keep(rec)


def log_size(path=LOG):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def record(exc, path=LOG, cap=LOG_MAX):
    """Count a crash of the app and append its traceback to the log while the
    log is below `cap` bytes. The size comes from the file system: a file
    opened for appending on LittleFS reports tell() == 0."""
    rec = _record()
    rec[RUNNING] = 0
    _bump(rec, CRASHES)
    _keep(rec)
    try:
        if log_size(path) < cap:
            import io
            buf = io.StringIO()
            sys.print_exception(exc, buf)
            with open(path, "a") as f:
                f.write(buf.getvalue())
    except Exception:
        pass  # a full or failing flash must not stop the reset
