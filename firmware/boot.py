# First thing after every reset: light the lamp at its safe level, before
# anything that could fail (network, config parsing of the app, the app).
try:
    from lampctl import early
    early.light_lamp()
except Exception as e:  # a broken flash must still reach main.py and the REPL
    import sys
    sys.print_exception(e)
