# Start the app unless the board is held in safe or maintenance mode.
# A crash is logged to flash and resets the board (the lamp relights in boot.py).
from lampctl import early

if early.should_run_app():
    try:
        from lampctl import app
        app.run()
    except KeyboardInterrupt:
        raise  # a technician at the console: stop here, leave the REPL
    except Exception as e:
        early.crashed(e)
