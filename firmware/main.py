# Start the app unless the board is in maintenance or safe mode. A crash is
# logged and counted, and resets the board (the lamp relights in boot.py);
# after three in a row the board comes up in safe mode.
from lampctl import early

mode = early.boot_mode()
if mode == early.RUN:
    try:
        from lampctl import app
        app.run()
    except KeyboardInterrupt:
        early.stopped()
        raise  # a technician at the console: stop here, leave the REPL
    except Exception as e:
        early.crashed(e)
elif mode == early.SAFE:
    early.safe_mode()
