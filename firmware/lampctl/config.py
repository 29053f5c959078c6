# The board's config.json: its board type, its identity and its settings,
# rendered by the provisioning tool. Loaded once, validated, with defaults.
import json

from lampctl.board_config import ConfigError, validate_board

PATH = "config.json"
DEFAULTS = {
    "failsafe_level": 80,   # % when nothing better is known
    "wdt_ms": 8000,
    "control_period_ms": 250,
    "presence_level": 100,
    "presence_hold_s": 60,
    "default_level": 80,
}
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


def validate(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    if "board" not in cfg:
        raise ConfigError("board: missing")
    validate_board(cfg["board"])
    for key, default in DEFAULTS.items():
        value = cfg.setdefault(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError("%s: expected an integer, got %r" % (key, value))
    for key in ("failsafe_level", "presence_level", "default_level"):
        if not 0 <= cfg[key] <= 100:
            raise ConfigError("%s: %d is out of range [0, 100]" % (key, cfg[key]))
    if not 1000 <= cfg["wdt_ms"] <= 60000:
        raise ConfigError("wdt_ms: %d is out of range [1000, 60000]" % cfg["wdt_ms"])
    return cfg
