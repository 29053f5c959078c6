# The probation of a new app, loaded by the loader (appslot) only while one
# is on trial (docs/ota.md). The pointer (appslot.POINTER) also holds "trial":
# boots that started the new app, "bound_s": how long it has to confirm, and
# "failed": why it failed (written by main.py, boot.py or the timer).
import json
import os

import appslot
import machine

MAX_TRIALS = 3     # power cuts on probation before giving up on the new app
DEFAULT_BOUND_S = 300
_timer = None      # type: machine.Timer | None


def write(st):
    """Replace the pointer in one rename: a power cut leaves the old or the new one."""
    tmp = appslot.POINTER + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.rename(tmp, appslot.POINTER)
    appslot.forget()


def why_failed(st):
    """Why the last boot of the app on probation ended without confirming it, or None."""
    if not st.get("trial"):
        return None  # switched to, not started yet
    if st.get("failed"):
        return st["failed"]
    cause = appslot.reset_cause()
    if cause == machine.WDT_RESET:
        return "watchdog reset (the app hung)"
    if cause == machine.PWRON_RESET:
        if st["trial"] >= MAX_TRIALS:
            return "power lost %d times before the app confirmed" % st["trial"]
        return None  # not the app's fault: it gets another trial
    return "reset before the app confirmed"


def check(st):
    """At boot: the pointer, rolled back to the confirmed app if this one's trial failed."""
    reason = why_failed(st)
    if reason is None:
        return st
    print("pilotlight: rolling back from slot %s: %s" % (st["run"], reason))
    write({"run": st["good"], "good": st["good"],
           "rolled_back": {"release": st.get("release"), "version": st.get("version"), "reason": reason}})
    return appslot.state()


def start():
    """main.py, just before the new app starts: count the trial and arm the
    timer that ends it if the app has not confirmed within its bound."""
    global _timer
    st = dict(appslot.state())
    st["trial"] = st.get("trial", 0) + 1
    write(st)
    bound_s = st.get("bound_s", DEFAULT_BOUND_S)
    print("pilotlight: slot %s on probation (trial %d), %d s to confirm" % (st["run"], st["trial"], bound_s))
    _timer = machine.Timer(0)
    _timer.init(mode=machine.Timer.ONE_SHOT, period=bound_s * 1000, callback=_too_late)


def _too_late(_t):
    if appslot.on_probation():
        failed("not confirmed within %d s (control loop alive and broker connected)"
               % appslot.state().get("bound_s", DEFAULT_BOUND_S))
        machine.reset()


def failed(reason):
    """Record why the app on probation failed; the next boot rolls it back."""
    if appslot.on_probation():
        st = dict(appslot.state())
        st["failed"] = reason[:120]
        write(st)


def confirm():
    """The app on probation works: it becomes the confirmed app (and the
    fallback of the next update). True when this call confirmed it."""
    if not appslot.on_probation():
        return False
    if _timer is not None:
        _timer.deinit()
    st = appslot.state()
    write({"run": st["run"], "good": st["run"], "confirmed": {"release": st.get("release"),
                                                              "version": st.get("version")}})
    return True
