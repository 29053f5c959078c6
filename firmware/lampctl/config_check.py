# The board's config.json judged field by field (lampctl.config.validate):
# loaded when a config is read or changed, dropped after, so its rules and
# messages take no heap while the app runs (docs/vboard.md, footprint).
from lampctl import ConfigError
from lampctl.board_config import validate_board

LEVELS = ("failsafe_level", "presence_level", "default_level")


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


def validate(cfg, defaults):
    """The config with `defaults` (lampctl.config.DEFAULTS) filled in, or ConfigError."""
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
    for key, default in defaults.items():
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
