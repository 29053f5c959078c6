# Start the app unless the board is in maintenance or safe mode. A crash is
# logged and counted, and resets the board (the lamp relights in boot.py);
# after three in a row the board comes up in safe mode. A new app on
# probation that fails in any way is rolled back at the next boot (apptrial).
import sys

import appslot

trial = appslot.on_probation()
if trial:
    import apptrial
    if appslot.state().get("failed"):
        import machine
        machine.reset()  # its lamp code already failed in boot.py
try:
    from lampctl import early
except Exception as e:
    if trial:
        apptrial.failed("import: %s: %s" % (type(e).__name__, e))
        import machine
        machine.reset()
    raise
mode = early.boot_mode()
if mode == early.RUN:
    try:
        if trial:
            apptrial.start()
        from lampctl import app
        app.run()
    except KeyboardInterrupt:
        early.stopped()
        if "lampctl.app" in sys.modules:
            sys.modules["lampctl.app"].shutdown()  # a planned stop: state and energy counters to flash
        raise  # a technician at the console: stop here, leave the REPL
    except Exception as e:
        if trial:
            apptrial.failed("crashed: %s: %s" % (type(e).__name__, e))
        early.crashed(e)
elif mode == early.SAFE:
    early.safe_mode()
