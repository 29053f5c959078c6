# Which of the two app slots (app/a, app/b) runs (docs/ota.md). Beside
# boot.py and main.py and never replaced over the air, so a broken app cannot
# take the choice down with it. Kept tiny: every boot loads it; the rest of
# the loader's update work (probation, rollback) is in apptrial, which boot.py
# loads only while a new app is on probation (apptrial uses this module, not
# the other way round).
#
# app/slot.json, replaced whole by rename: {"run": slot to start, "good": the
# confirmed slot, ...}; run != good: the app in `run` is on probation.
import json
import sys

POINTER = "app/slot.json"
_st = None  # type: dict | None


def state():
    """The pointer; a board without one (as provisioned) runs slot a."""
    global _st
    if _st is None:
        try:
            with open(POINTER) as f:
                _st = json.load(f)
            if _st.get("run") not in ("a", "b") or _st.get("good") not in ("a", "b"):
                raise ValueError
        except (OSError, ValueError, AttributeError):
            _st = {"run": "a", "good": "a"}
    return _st


def on_probation():
    st = state()
    return st["run"] != st["good"]


def slot_dir(slot):
    return "app/" + slot


def select():
    """boot.py, once a failed trial is rolled back: put the slot to run first
    on the import path."""
    path = "/" + slot_dir(state()["run"])
    if path not in sys.path:
        sys.path.insert(0, path)


def forget():
    """After a write of the pointer (apptrial, lampctl.ota): read it again when next asked."""
    global _st
    _st = None
