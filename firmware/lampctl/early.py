# What boot.py and main.py need before the app: the lamp lit from the config
# alone, the choice between the app, maintenance and safe mode (from the crash
# record, lampctl.crash_record), and what a crash or a stop at the console does.
import machine
import sys

from lampctl import ConfigError, config, crash_record, store
from lampctl.crash_record import clear_crashes, crashes, watchdog_resets  # noqa: F401 (for a technician at the REPL)

MAINTENANCE_FLAG = "maintenance"
CRASH_LOG = crash_record.LOG
SAFE_AFTER_CRASHES = 3
RUN, MAINTENANCE, SAFE = "run", "maintenance", "safe"
link = None  # safe mode's network link, for the technician (early.link.nic.ifconfig())


FAIL_ON_LEVEL = 100  # a street lamp fails on: a config error must not leave the street dark


def light_lamp():
    from lampctl.lamp import Lamp
    try:
        cfg = config.load()
    except ConfigError:
        Lamp(config.board_only()["lamp"], FAIL_ON_LEVEL)   # the driver is known; the safe level is not
        raise   # boot.py prints it; the app reports it, then safe mode after three crashes
    Lamp(cfg["board"]["lamp"], cfg["failsafe_level"])


def _safe_mode_pin(pin, internal):
    # GPIO 34-39 have no internal pull (board_config refuses one there): those
    # carriers hold the pin high with a resistor of their own
    if internal:
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
    return machine.Pin(pin, machine.Pin.IN)


def boot_mode():
    """RUN, MAINTENANCE (the provisioning tool's flag file) or SAFE (the
    safe-mode pin held low, or SAFE_AFTER_CRASHES crashes in a row).
    Called once per boot by main.py."""
    count = crash_record.count_boot()
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
    if count >= SAFE_AFTER_CRASHES:
        print("pilotlight: safe mode (%d crashes in a row, see %s): app not started;"
              " early.clear_crashes() then machine.reset() to retry" % (count, CRASH_LOG))
        return SAFE
    crash_record.running(True)
    return RUN


def stopped():
    """The app was stopped at the console (Ctrl-C): not a crash. main.py then
    has the app save what a planned stop saves (app.shutdown)."""
    crash_record.running(False)


def safe_mode():
    """The lamp stays at the level boot.py set; only the network comes up, so
    a technician can reach the REPL (serial or WebREPL) and recover the board,
    and the fleet hears of it (lampctl.safe_announce, in the background)."""
    global link
    try:
        from lampctl.link import Link
        cfg = config.load()
        link = Link(cfg, None, None)
        link.start()  # brings the interface up, nothing else
    except Exception as e:
        print("pilotlight: safe mode without network:", e)
        return
    count = crashes()
    try:
        from lampctl import safe_announce
        safe_announce.start(cfg, link, "crashes" if count >= SAFE_AFTER_CRASHES else "safe_mode_pin", count)
    except Exception as e:
        print("pilotlight: safe mode not announced:", e)


def crashed(exc):
    sys.print_exception(exc)
    crash_record.record(exc)
    machine.reset()
