# Start the app unless the board is in maintenance or safe mode. A crash is
# logged and counted, and resets the board (the lamp relights in boot.py);
# after three in a row the board comes up in safe mode.
import sys

from lampctl import early

mode = early.boot_mode()
if mode == early.RUN:
    try:
        from lampctl import app
        app.run()
    except KeyboardInterrupt:
        early.stopped()
        if "lampctl.app" in sys.modules:
            sys.modules["lampctl.app"].shutdown()  # a planned stop: state and energy counters to flash
        raise  # a technician at the console: stop here, leave the REPL
    except Exception as e:
        early.crashed(e)
elif mode == early.SAFE:
    early.safe_mode()
