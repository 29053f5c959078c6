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
ROM = "/rom"  # where the firmware mounts its ROMFS partition as it starts
COPIED = "rom.copied"  # slotrom's note of its last copy: "sha256-of-manifest[ reset-cause]"
_st = None  # type: dict | None
_cause = None  # type: int | None


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
    on the import path: its copy in the firmware's ROMFS partition where it
    has one (made by slotrom, which resets the board to mount it), else the
    slot itself."""
    slot = slot_dir(state()["run"])
    if _rom_holds(slot):
        path = ROM
    else:  # rare (a new app, or no ROMFS): slotrom's code only then, off the app's heap
        try:
            import slotrom
            path = slotrom.run_from(slot, COPIED, reset_cause())
            del sys.modules["slotrom"]
        except MemoryError:  # too little heap even for that: boot.py must still light the lamp
            path = "/" + slot
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)


def _rom_holds(slot):
    """Whether /rom is this slot's copy: it holds the slot's manifest."""
    try:
        with open(ROM + "/manifest.json", "rb") as a, open(slot + "/manifest.json", "rb") as b:
            while True:
                x = a.read(256)
                if x != b.read(256):
                    return False
                if not x:
                    return True
    except OSError:
        return False


def reset_cause():
    """machine.reset_cause() of this boot, seen through the loader's own reset
    after a ROMFS copy (slotrom), which notes the cause it replaced: the fleet
    hears of the power-on or watchdog reset, not of the loader's."""
    global _cause
    if _cause is None:
        import machine
        _cause = machine.reset_cause()
        if _cause == machine.SOFT_RESET:
            try:
                with open(COPIED) as f:
                    sha, _, kept = f.read().partition(" ")
                if kept:
                    _cause = int(kept)
                    with open(COPIED, "w") as f:
                        f.write(sha)  # told once (a cut here only costs the note: a copy made again)
            except (OSError, ValueError):
                pass
    return _cause


def forget():
    """After a write of the pointer (apptrial, lampctl.ota): read it again when next asked."""
    global _st
    _st = None
