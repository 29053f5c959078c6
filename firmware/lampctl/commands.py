# Validation of downlink commands (DESIGN.md: `.../cmd/{name}`, JSON with an
# `id`), before anything is applied. Pure: parse() returns a normalised command
# or raises CommandError, whose text goes into the `ack` as the error.
import json

MAX_PAYLOAD = 1024
ID_MAX_LEN = 40

# Settings a `config` command may change remotely: key -> (kind, lo, hi).
# Deliberately not wdt_ms or pins: a typo there needs a technician at the pole.
CONFIG_KEYS = {
    "default_level": ("int", 0, 100),
    "failsafe_level": ("int", 0, 100),
    "presence_level": ("int", 0, 100),
    "presence_hold_s": ("int", 1, 3600),
    "tele_interval_s": ("int", 10, 86400),
    "neighbour_lamps": ("int", 0, 10),
    "tz": ("str", 1, 64),
}

_EPOCH_2024 = 1704067200
_EPOCH_2100 = 4102444800


class CommandError(ValueError):
    """`id` is the command's id when it could be read (for the ack), else None."""

    def __init__(self, message, cmd_id=None):
        super().__init__(message)
        self.id = cmd_id


def _kind_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    return "an object"


def _check(where, v, kind, lo=None, hi=None):
    """v checked against kind ('int', 'num', 'str', 'obj', 'list') and bounds
    (string length for 'str', item count for 'list')."""
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "int":
        ok = number and isinstance(v, int)
        want = "an integer"
    elif kind == "num":
        ok = number
        want = "a number"
    elif kind == "str":
        ok = isinstance(v, str)
        want = "a string"
    elif kind == "list":
        ok = isinstance(v, list)
        want = "a list"
    else:
        ok = isinstance(v, dict)
        want = "an object"
    if not ok:
        raise ValueError("%s: expected %s, got %s" % (where, want, _kind_name(v)))
    if lo is None:
        return v
    if kind in ("str", "list"):
        if not lo <= len(v) <= hi:
            raise ValueError("%s: length %d is out of range [%d, %d]" % (where, len(v), lo, hi))
    elif not lo <= v <= hi:  # also refuses NaN
        raise ValueError("%s: %r is out of range [%r, %r]" % (where, v, lo, hi))
    return v


def _fields(obj, known, where=""):
    for k in obj:
        if k not in known:
            raise ValueError("%s%s: unexpected field" % (where, k))


def _level(c):
    _fields(c, ("level", "duration_s"))
    if "level" not in c:
        raise ValueError("level: missing")
    if c["level"] is not None:  # null ends an override
        _check("level", c["level"], "num", 0, 100)
    return {"level": c["level"], "duration_s": _check("duration_s", c.get("duration_s", 3600), "int", 1, 86400)}


def _program(c):
    # the whole document is checked by the evaluator's own rules (docs/programs.md)
    _fields(c, ("program",))
    if "program" not in c:
        raise ValueError("program: missing")
    doc = _check("program", c["program"], "obj")
    from lampctl.program import Program  # loaded only when a program arrives
    try:
        Program(doc)
    except ValueError as e:
        raise ValueError("program.%s" % e)
    return {"program": c["program"]}


def _config(c):
    _fields(c, ("set",))
    if "set" not in c:
        raise ValueError("set: missing")
    changes = _check("set", c["set"], "obj")
    if not changes:
        raise ValueError("set: no settings given")
    for k, v in changes.items():
        if k not in CONFIG_KEYS:
            raise ValueError("set.%s: not a remotely settable key" % k)
        kind, lo, hi = CONFIG_KEYS[k]
        _check("set." + k, v, kind, lo, hi)
    return {"set": changes}


def _identify(c):
    _fields(c, ("duration_s",))
    return {"duration_s": _check("duration_s", c.get("duration_s", 30), "int", 1, 600)}


def _reboot(c):
    _fields(c, ("delay_s",))
    return {"delay_s": _check("delay_s", c.get("delay_s", 0), "int", 0, 300)}


def _time(c):
    _fields(c, ("utc",))
    if "utc" not in c:
        raise ValueError("utc: missing")
    return {"utc": _check("utc", c["utc"], "int", _EPOCH_2024, _EPOCH_2100)}


def _lamp_replaced(c):
    # a new lamp in the luminaire: its burn hours (what a refurbished one already has) and no cycles
    _fields(c, ("burn_h",))
    return {"burn_h": _check("burn_h", c.get("burn_h", 0), "int", 0, 200000)}


def _ping(c):
    # state: true also sends the state again, for a fleet tool that starts with no
    # retained one to read (the other node of a RabbitMQ cluster keeps none for it)
    _fields(c, ("state",))
    state = c.get("state", False)
    if not isinstance(state, bool):
        raise ValueError("state: expected true or false, got %s" % _kind_name(state))
    return {"state": state}


def _ota(c):
    # the release is checked by the board itself (signature, release number):
    # here only the form of the command (docs/ota.md)
    _fields(c, ("version", "manifest", "sha256", "probation_s"))
    for key in ("version", "manifest", "sha256"):
        if key not in c:
            raise ValueError("%s: missing" % key)
    _check("version", c["version"], "str", 1, 32)
    url = _check("manifest", c["manifest"], "str", 12, 200)
    if not (url.startswith("http://") or url.startswith("https://")) or url.endswith("/"):
        raise ValueError("manifest: expected the http(s) URL of a release's manifest.json")
    sha = _check("sha256", c["sha256"], "str", 64, 64)
    if sha.strip("0123456789abcdef"):
        raise ValueError("sha256: expected 64 lowercase hex digits")
    return {"version": c["version"], "manifest": url, "sha256": sha,
            "probation_s": _check("probation_s", c.get("probation_s", 300), "int", 20, 3600)}


CHECKS = {
    "level": _level,
    "program": _program,
    "config": _config,
    "identify": _identify,
    "reboot": _reboot,
    "time": _time,
    "lamp_replaced": _lamp_replaced,
    "ping": _ping,
    "ota": _ota,
}


def parse(name, payload, max_payload=MAX_PAYLOAD):
    """Check a command; return {"cmd": name, "id": id, ...normalised fields}.
    Raises CommandError(message, id) for anything malformed."""
    if len(payload) > max_payload:
        raise CommandError("payload: %d bytes exceeds the %d-byte limit" % (len(payload), max_payload))
    try:
        text = payload.decode() if isinstance(payload, (bytes, bytearray)) else payload
    except UnicodeError:
        raise CommandError("payload: not UTF-8")
    try:
        c = json.loads(text)
    except (ValueError, RuntimeError):  # RuntimeError: nesting too deep for the parser
        raise CommandError("payload: not valid JSON")
    except MemoryError:  # the parser's stack: deep nesting within the size limit
        raise CommandError("payload: nested too deeply to parse")
    if not isinstance(c, dict):
        raise CommandError("payload: expected a JSON object, got %s" % _kind_name(c))
    if "id" not in c:
        raise CommandError("id: missing")
    cmd_id = c.pop("id")
    if isinstance(cmd_id, str):
        if not 1 <= len(cmd_id) <= ID_MAX_LEN:
            raise CommandError("id: length %d is out of range [1, %d]" % (len(cmd_id), ID_MAX_LEN))
    elif not isinstance(cmd_id, int) or isinstance(cmd_id, bool):
        raise CommandError("id: expected a string or an integer, got %s" % _kind_name(cmd_id))
    check = CHECKS.get(name)
    if check is None:
        raise CommandError("unknown command %r (known: %s)" % (name, ", ".join(sorted(CHECKS))), cmd_id)
    try:
        out = check(c)
    except ValueError as e:
        raise CommandError(str(e), cmd_id)
    out["cmd"] = name
    out["id"] = cmd_id
    return out


class RecentIds:
    """The last `size` applied command ids: a redelivered command (QoS 1 DUP,
    or the same group command twice) is acknowledged but not applied again."""

    def __init__(self, size=32):
        self._ring = [None] * size
        self._next = 0

    def __contains__(self, cmd_id):
        return cmd_id in self._ring

    def add(self, cmd_id):
        self._ring[self._next] = cmd_id
        self._next = (self._next + 1) % len(self._ring)
