# The board's config.json: its board type, identity, place, network, broker
# and settings, rendered by the provisioning tool (host_tools/provision).
# Loaded once and validated; a bad config names the field that is wrong.
import json

from lampctl import ConfigError, drop

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
    "tele_interval_s": 3600,  # hourly (state and events report changes at once): lamps on metered links
    "neighbour_lamps": 3,   # lamps lit ahead of a walker on the street
}
# mqtt.keepalive_s when the config gives none: a dead board's Last Will is out
# within 1.5 times it (an hour), and with hourly telemetry it pings once an hour.
KEEPALIVE_S = 2400
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


def board_only(path=PATH):
    """The board section of a config that fails validation elsewhere: enough to
    drive the lamp. Raises ConfigError when the board section is unusable too."""
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        raise ConfigError("%s: unreadable" % path)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("board"), dict):
        raise ConfigError("board: missing")
    from lampctl.board_config import validate_board
    try:
        validate_board(cfg["board"])
    finally:
        drop("board_config")
    return cfg["board"]


def save(cfg, path=PATH):
    """Keep a changed config across reboots (atomic: a power cut leaves the old one)."""
    from lampctl.store import write_json_atomic
    write_json_atomic(path, cfg)


def validate(cfg):
    """The config with its defaults filled in, or ConfigError naming the field.
    The rules (lampctl.config_check, lampctl.board_config) load for the check
    and leave the heap after it."""
    from lampctl import config_check
    try:
        return config_check.validate(cfg, DEFAULTS)
    finally:
        drop("config_check", "board_config")
