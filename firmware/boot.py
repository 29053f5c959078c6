# First thing after every reset: pick the app slot (rolling back an update
# that failed its trial), then light the lamp at its safe level with that
# slot's code, before anything that could fail (network, the app).
import appslot

if appslot.on_probation():  # roll back a new app whose trial failed
    import apptrial
    apptrial.check(appslot.state())
appslot.select()
try:
    from lampctl import early
    early.light_lamp()
except Exception as e:  # a broken flash must still reach main.py and the REPL
    import sys
    sys.print_exception(e)
    if appslot.on_probation():  # the new app's own lamp code: roll it back
        import apptrial
        apptrial.failed("lamp code: %s: %s" % (type(e).__name__, e))
