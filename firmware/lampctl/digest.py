# Short digests of a program document and of the operator-managed settings,
# reported in `state` so the fleet sees drift. Pure: the fleet tools import this
# same module to predict a board's hashes, so the two cannot disagree.
#
# The encoding is canonical (keys sorted, numbers and strings spelled one way)
# because MicroPython's json.dumps follows its dict's hash order and a float32
# prints differently from a double; JSON text would hash differently on host
# and board. Secrets and board-local defaults are not in the settings hash: the
# fleet cannot know them, and a rotated password is not drift.
import binascii
import hashlib

from lampctl.commands import CONFIG_KEYS


def _feed(h, v):
    if v is None:
        h.update(b"n")
    elif v is True:
        h.update(b"t")
    elif v is False:
        h.update(b"f")
    elif isinstance(v, int):
        h.update(b"i%d;" % v)
    elif isinstance(v, float):
        if -2147483648 <= v <= 2147483647 and v == int(v):
            h.update(b"i%d;" % int(v))  # 40.0 and 40 are the same level
        else:
            h.update(("f%.6g;" % v).encode())  # six digits: what a float32 holds
    elif isinstance(v, str):
        b = v.encode()
        h.update(b"s%d:" % len(b))
        h.update(b)
    elif isinstance(v, (list, tuple)):
        h.update(b"[")
        for x in v:
            _feed(h, x)
        h.update(b"]")
    elif isinstance(v, dict):
        h.update(b"{")
        for k in sorted(v):
            _feed(h, k)
            _feed(h, v[k])
        h.update(b"}")
    else:
        raise ValueError("digest: cannot encode %s" % type(v).__name__)


def digest(obj):
    """12 hex digits of SHA-256 over the canonical encoding of obj."""
    h = hashlib.sha256()
    _feed(h, obj)
    return binascii.hexlify(h.digest()[:6]).decode()


def managed_settings(cfg):
    """The settings a `config` command manages (commands.CONFIG_KEYS), as the
    board runs them: `tz` lives in the config's location section."""
    out = {}
    for key in CONFIG_KEYS:
        if key == "tz":
            loc = cfg.get("location")
            if loc:
                out["tz"] = loc.get("tz")
        elif key in cfg:
            out[key] = cfg[key]
    return out


def config_hash(cfg):
    return digest(managed_settings(cfg))
