# What the app knows of over-the-air updates without loading the update code:
# the release it runs, the update pending (for `state`), and the `ota`
# command, which saves the update as a job and restarts the board. The next
# boot is an update boot (lampctl.updater): the lamp's brain and the network
# link without the MQTT side, whose RAM the update code and its buffers take.
import json

import appslot
from lampctl import store

JOB = "app/ota.json"        # the update in progress: survives reboots, removed when done
RESULT = "app/ota.last"     # why the last update failed, until the app has reported it
MAX_TRIES = 3               # update boots in a row without success before pausing
# for `state`: {"pending": version, "phase": ...} or {"failed": reason, ...}
status = {}  # type: dict
_running = None             # type: tuple | None


def running():
    """(release number, version) of the app this board runs, from the head of its
    slot's manifest: the format puts them first, so 160 bytes are read, never
    the whole file (the app may ask when its heap has no large free run)."""
    global _running
    if _running is None:
        try:
            with open(appslot.slot_dir(appslot.state()["run"]) + "/manifest.json") as f:
                head = f.read(160)
            _running = (int(_field(head, '"release":', ",}")), _field(head, '"version":"', '"'))
        except (OSError, ValueError, IndexError):
            _running = (0, "unknown")
    return _running


def _field(text, key, ends):
    i = text.index(key) + len(key)
    j = i
    while text[j] not in ends:
        j += 1
    return text[i:j]


def job():
    text = store.read_text(JOB)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def save_job(j):
    store.write_atomic(JOB, json.dumps(j))


def state():
    """The `ota` part of the board's state: running release, and the pending one."""
    out = {"release": running()[0], "slot": appslot.state()["run"]}
    if appslot.on_probation():
        out["probation"] = True
    out.update(status)
    return out


def start(cmd):
    """The `ota` command, checked by commands.py: saved as the job; the ack's
    extra fields, with restart=True when the board is to restart into an
    update boot. Raises ValueError when the board cannot take it now."""
    if appslot.on_probation():
        raise ValueError("ota: the running app is on probation: update after it is confirmed")
    j = job()
    if j is not None and j["sha256"] != cmd["sha256"] and j.get("tries", 0) < MAX_TRIES:
        raise ValueError("ota: the update to %s is still in progress" % j["version"])
    if j is not None and j["sha256"] == cmd["sha256"] and j.get("tries", 0) < MAX_TRIES:
        return {"pending": j["version"]}  # already on it
    save_job({"version": cmd["version"], "manifest": cmd["manifest"], "sha256": cmd["sha256"],
              "bound_s": cmd["probation_s"], "tries": 0})
    return {"pending": cmd["version"], "restart": True}


def update_boot():
    """True when this boot is to run the pending update (main.py asks)."""
    j = job()
    if j is None:
        return False
    if appslot.on_probation():
        remove(JOB)  # the app on probation holds the fallback: never write into it
        return False
    return j.get("tries", 0) < MAX_TRIES


def remove(path):
    import os
    try:
        os.remove(path)
    except OSError:
        pass


def boot_work():
    """True when a normal boot has update work (lampctl.ota_boot): a probation
    to end, a rollback or a failure to report, a paused update to retry."""
    undone = appslot.state().get("rolled_back")
    return appslot.on_probation() or store.exists(JOB) or store.exists(RESULT) or \
        (undone is not None and not undone.get("reported"))


class Fed:
    """The watchdog as the control loop sees it, counting its feeds: the
    evidence that the control loop is alive."""

    def __init__(self, wdt):
        self.wdt = wdt
        self.count = 0

    def feed(self):
        self.count += 1
        self.wdt.feed()
