# What boot.py and main.py need before the app: the lamp lit from the config
# alone, the safe-mode and maintenance checks, and crash logging.
import machine
import sys

from lampctl import config

MAINTENANCE_FLAG = "maintenance"
CRASH_LOG = "crash.log"
CRASH_LOG_MAX = 2048


def light_lamp():
    cfg = config.load()
    from lampctl.lamp import Lamp
    Lamp(cfg["board"]["lamp"], cfg["failsafe_level"])


def _exists(path):
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def should_run_app():
    """False in maintenance mode (a flag file the provisioning tool writes) or
    while the safe-mode pin is held low: the REPL stays quiet for a technician."""
    if _exists(MAINTENANCE_FLAG):
        print("pilotlight: maintenance mode, app not started")
        return False
    try:
        pin = config.load()["board"].get("safe_mode_pin")
    except Exception:
        return True  # the app reports a bad config itself
    if pin is not None and machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        print("pilotlight: safe-mode pin held, app not started")
        return False
    return True


def crashed(exc):
    sys.print_exception(exc)
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
