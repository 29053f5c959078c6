"""What each board should run: a program, the operator-managed settings (the
keys a `config` command sets) and a firmware release, set for a whole site, a
district, a street or one board; the most specific one wins."""
from __future__ import annotations

import json

from ..inventory.db import Inventory, default_actor, now
from ..paths import firmware_module
from . import programs

_commands = firmware_module("commands")
_config = firmware_module("config")
SCOPES = ("site", "district", "street", "board")      # general to specific
CONFIG_KEYS = tuple(_commands.CONFIG_KEYS)
KEYS = ("program", "firmware") + CONFIG_KEYS


def check_value(key: str, value):
    """A desired value the board would accept (ValueError names what is wrong)."""
    if key == "program":
        programs.check(value)
    elif key == "firmware":
        if not isinstance(value, str) or not value:
            raise ValueError("firmware: expected a release version such as '0.2.0'")
    elif key in CONFIG_KEYS:
        try:
            _commands.parse("config", json.dumps({"id": "x", "set": {key: value}}))
        except _commands.CommandError as e:
            raise ValueError(str(e)) from None
    else:
        raise ValueError(f"{key}: not a desired-state key (one of {', '.join(KEYS)})")
    return value


def set_value(inv: Inventory, site: str, scope: str, name: str, key: str, value, actor: str | None = None) -> None:
    """A program is given as its document (kept in the library, stored by digest)."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: one of {', '.join(SCOPES)}")
    check_value(key, value)
    stored = programs.remember(inv, value) if key == "program" else value
    with inv.transaction():
        inv.conn.execute("INSERT OR REPLACE INTO fleet_desired (site_id, scope, name, key, value, set_at, set_by)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (site, scope, "" if scope == "site" else name, key, json.dumps(stored), now(),
                          actor or default_actor()))


def clear(inv: Inventory, site: str, scope: str, name: str, key: str) -> bool:
    with inv.transaction():
        return inv.conn.execute("DELETE FROM fleet_desired WHERE site_id = ? AND scope = ? AND name = ? AND key = ?",
                                (site, scope, "" if scope == "site" else name, key)).rowcount > 0


def resolve(inv: Inventory, site: str, board_rows: list[dict]) -> dict[str, dict]:
    """device id -> {key: value} after inheritance (program as its digest)."""
    layers: dict[tuple[str, str], dict] = {}
    for r in inv.query("SELECT scope, name, key, value FROM fleet_desired WHERE site_id = ?", (site,)):
        layers.setdefault((r["scope"], r["name"]), {})[r["key"]] = json.loads(r["value"])
    out = {}
    for row in board_rows:
        merged: dict = {}
        for scope, name in (("site", ""), ("district", row["district_slug"]), ("street", row["street_group"]),
                            ("board", row["device_id"])):
            merged.update(layers.get((scope, name), {}))
        out[row["device_id"]] = merged
    return out


def managed_settings(desired: dict, site_tz: str | None) -> dict:
    """The full set of managed settings a board should run: the firmware's
    defaults, the site's time zone, and what the operators set."""
    settings = {k: _config.DEFAULTS[k] for k in CONFIG_KEYS if k in _config.DEFAULTS}
    settings["tz"] = site_tz
    settings.update({k: v for k, v in desired.items() if k in CONFIG_KEYS})
    return settings
