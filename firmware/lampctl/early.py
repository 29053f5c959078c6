# What boot.py and main.py need before the app: the lamp lit from the config
# alone, the choice between the app, maintenance and safe mode, and the crash
# record that picks safe mode after repeated crashes.
# The record lives in RTC memory: it survives machine.reset() and watchdog
# resets but not a power cut (a power cycle is a technician's clean start).
import machine
import sys

from lampctl import config, store

MAINTENANCE_FLAG = "maintenance"
CRASH_LOG = "crash.log"
CRASH_LOG_MAX = 2048
SAFE_AFTER_CRASHES = 3
RUN, MAINTENANCE, SAFE = "run", "maintenance", "safe"
# RTC memory: MAGIC, then one byte each: crashes in a row, watchdog resets in
# a row, and whether the app was running (so a watchdog reset was the app's).
MAGIC = b"PLc1"
CRASHES, WDT_RESETS, RUNNING = 0, 1, 2
link = None  # safe mode's network link, for the technician (early.link.nic.ifconfig())


def light_lamp():
    cfg = config.load()
    from lampctl.lamp import Lamp
    Lamp(cfg["board"]["lamp"], cfg["failsafe_level"])




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


def _safe_mode_pin(pin, internal):
    # GPIO 34-39 have no internal pull (board_config refuses one there): those
    # carriers hold the pin high with a resistor of their own
    if internal:
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
    return machine.Pin(pin, machine.Pin.IN)


def boot_mode():
    """RUN, MAINTENANCE (the provisioning tool's flag file) or SAFE (the
    safe-mode pin held low, or SAFE_AFTER_CRASHES crashes in a row).
    Called once per boot by main.py; a watchdog reset of a running app is
    counted here, as nothing runs at the moment it strikes."""
    rec = _record()
    if rec[RUNNING]:
        rec[RUNNING] = 0
        if machine.reset_cause() == machine.WDT_RESET:
            _bump(rec, CRASHES)
            _bump(rec, WDT_RESETS)
        _keep(rec)
    if store.exists(MAINTENANCE_FLAG):
        print("pilotlight: maintenance mode, app not started")
        return MAINTENANCE
    try:
        board = config.load()["board"]
        pin = board.get("safe_mode_pin")
        internal = board.get("safe_mode_pull", "internal") == "internal"
    except Exception:
        pin = None  # the app reports a bad config itself
    if pin is not None and _safe_mode_pin(pin, internal).value() == 0:
        print("pilotlight: safe mode (safe-mode pin held): app not started")
        return SAFE
    if rec[CRASHES] >= SAFE_AFTER_CRASHES:
        print("pilotlight: safe mode (%d crashes in a row, see %s): app not started;"
              " early.clear_crashes() then machine.reset() to retry" % (rec[CRASHES], CRASH_LOG))
        return SAFE
    rec[RUNNING] = 1
    _keep(rec)
    return RUN


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


def stopped():
    """The app was stopped at the console (Ctrl-C): not a crash. The energy
    counters go to flash first, as before any planned stop."""
    rec = _record()
    rec[RUNNING] = 0
    _keep(rec)
    try:
        from lampctl import sensing
        sensing.save_counters()
    except Exception as e:
        sys.print_exception(e)


def safe_mode():
    """The lamp stays at the level boot.py set; only the network comes up, so
    a technician can reach the REPL (serial or WebREPL) and recover the board."""
    global link
    try:
        from lampctl.link import Link
        link = Link(config.load(), None, None)
        link.start()  # brings the interface up, nothing else
    except Exception as e:
        print("pilotlight: safe mode without network:", e)


def crashed(exc):
    sys.print_exception(exc)
    rec = _record()
    rec[RUNNING] = 0
    _bump(rec, CRASHES)
    _keep(rec)
    try:
        import io
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        with open(CRASH_LOG, "a") as f:
            if f.tell() < CRASH_LOG_MAX:
                f.write(buf.getvalue())
    except Exception:
        pass
    machine.reset()
