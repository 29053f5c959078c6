# The board's config.json: its board type, identity, place, network, broker
# and settings, rendered by the provisioning tool (host_tools/provision).
# Loaded once and validated; a bad config names the field that is wrong.
import json

from lampctl.board_config import ConfigError, validate_board

PATH = "config.json"
DEFAULTS = {
    "failsafe_level": 80,   # % when nothing better is known
    "wdt_ms": 8000,
    "control_period_ms": 250,
    "presence_level": 100,
    "presence_hold_s": 60,
    "presence_fade_in_ms": 1000,
    "presence_fade_out_ms": 10000,
    "default_level": 80,
    "tele_interval_s": 300,
    "neighbour_lamps": 3,   # lamps lit ahead of a walker on the street
}
LEVELS = ("failsafe_level", "presence_level", "default_level")
_cache = None


def load(path=PATH):
    global _cache
    if _cache is not None and path == PATH:
        return _cache
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError:
        raise ConfigError("%s: missing (provision the board)" % path)
    except ValueError as e:
        raise ConfigError("%s: not valid JSON (%s)" % (path, e))
    cfg = validate(cfg)
    if path == PATH:
        _cache = cfg
    return cfg


def save(cfg, path=PATH):
    """Keep a changed config across reboots (atomic: a power cut leaves the old one)."""
    from lampctl.store import write_json_atomic
    write_json_atomic(path, cfg)


def _section(cfg, name, fields, optional=False):
    """Check a sub-object: fields maps key -> (type, required)."""
    sec = cfg.get(name)
    if sec is None:
        if optional:
            return None
        raise ConfigError("%s: missing" % name)
    if not isinstance(sec, dict):
        raise ConfigError("%s: expected an object" % name)
    for key, (kind, required) in fields.items():
        if key not in sec or sec[key] is None:
            if required:
                raise ConfigError("%s.%s: missing" % (name, key))
            continue
        v = sec[key]
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            sec[key] = v = float(v)
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise ConfigError("%s.%s: expected %s, got %r" % (name, key, kind.__name__, v))
    return sec


def validate(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    if "board" not in cfg:
        raise ConfigError("board: missing")
    validate_board(cfg["board"])
    from lampctl.diagnostics import check_settings
    check_settings(cfg["board"].get("diagnostics"))  # names the bad key
    _section(cfg, "device", {"id": (str, True), "site": (str, True), "pole": (str, False),
                             "groups": (list, False), "street": (str, False), "position": (int, False)},
             optional=True)
    loc = _section(cfg, "location", {"lat": (float, True), "lon": (float, True), "tz": (str, True)}, optional=True)
    if loc is not None:
        if not -90 <= loc["lat"] <= 90:
            raise ConfigError("location.lat: %r is out of range [-90, 90]" % loc["lat"])
        if not -180 <= loc["lon"] <= 180:
            raise ConfigError("location.lon: %r is out of range [-180, 180]" % loc["lon"])
    _section(cfg, "network", {"wifi_ssid": (str, False), "wifi_key": (str, False)}, optional=True)
    mqtt = _section(cfg, "mqtt", {"host": (str, True), "port": (int, True), "username": (str, False),
                                  "password": (str, False), "tls": (bool, False), "ca_file": (str, False),
                                  "cert_file": (str, False), "key_file": (str, False),
                                  "keepalive_s": (int, False), "max_message": (int, False)}, optional=True)
    if mqtt is not None and cfg.get("device") is None:
        raise ConfigError("device: missing (the broker needs the board's id and site)")
    if mqtt is not None and not 1 <= mqtt["port"] <= 65535:
        raise ConfigError("mqtt.port: %r is out of range [1, 65535]" % mqtt["port"])
    offset = cfg.get("chip_temp_offset_c")
    if offset is not None and (not isinstance(offset, (int, float)) or isinstance(offset, bool)
                               or not -80 <= offset <= 80):
        raise ConfigError("chip_temp_offset_c: expected a number of degrees in [-80, 80], got %r" % (offset,))
    if not isinstance(cfg.setdefault("constant_light_output", False), bool):
        raise ConfigError("constant_light_output: expected true or false")
    for key, default in DEFAULTS.items():
        value = cfg.setdefault(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError("%s: expected an integer, got %r" % (key, value))
    for key in LEVELS:
        if not 0 <= cfg[key] <= 100:
            raise ConfigError("%s: %d is out of range [0, 100]" % (key, cfg[key]))
    if not 0 <= cfg["neighbour_lamps"] <= 10:
        raise ConfigError("neighbour_lamps: %d is out of range [0, 10]" % cfg["neighbour_lamps"])
    for key in ("presence_fade_in_ms", "presence_fade_out_ms"):
        if not 0 <= cfg[key] <= 600000:
            raise ConfigError("%s: %d is out of range [0, 600000]" % (key, cfg[key]))
    if not 1000 <= cfg["wdt_ms"] <= 60000:
        raise ConfigError("wdt_ms: %d is out of range [1000, 60000]" % cfg["wdt_ms"])
    return cfg
