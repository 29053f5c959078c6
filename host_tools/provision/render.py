"""The board's config.json (docs/configuration.md), rendered from the inventory.

The same inputs always give the same bytes, so an unchanged board's config
hashes the same and is not copied again."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..inventory.model import Board, Pole, Site
from ..paths import firmware_module
from . import tls_bundle

MASK = "********"
SECRET_KEYS = (("mqtt", "password"), ("mqtt", "key"), ("network", "wifi_key"))


class RenderError(Exception):
    """The config cannot be made as asked; the message names the field."""


@dataclass(frozen=True)
class Network:
    """What every board of this run needs to reach the broker."""
    broker_host: str
    broker_port: int = 1883
    wifi_ssid: str | None = None
    wifi_key: str | None = field(default=None, repr=False)
    tls_dir: Path | None = None         # the broker's TLS folder: boards connect with TLS (tls_bundle.py)


def render(board_type: dict, board: Board, pole: Pole, site: Site, groups: list[str],
           username: str, password: str, net: Network) -> dict:
    if board_type.get("network") == "wifi" and not net.wifi_ssid:
        raise RenderError(f"board type {board_type['board_type']} uses Wi-Fi: give the site's --wifi-ssid")
    if not site.tz:
        raise RenderError(f"site {site.id!r} has no time zone: set it with `pilotlight inventory init --tz`")
    cfg = {
        "board": board_type,
        # `street` is the street's group: neighbour presence goes over its topic
        "device": {"id": board.device_id, "site": site.id, "pole": pole.id, "street": pole.street_group,
                   "position": pole.position, "groups": groups},
        "location": {"lat": float(pole.lat), "lon": float(pole.lon), "tz": site.tz},
        "mqtt": {"host": net.broker_host, "port": net.broker_port, "username": username, "password": password},
    }
    if net.tls_dir:
        cfg["mqtt"].update(tls_bundle.mqtt_settings())
    if board_type.get("network") == "wifi":
        cfg["network"] = {"wifi_ssid": net.wifi_ssid, "wifi_key": net.wifi_key or ""}
    config = firmware_module("config")
    try:
        config.validate(json.loads(json.dumps(cfg)))   # the board's own rules, on a copy (it fills defaults)
    except ValueError as e:
        raise RenderError(f"config for board {board.chip_id} on pole {pole.id}: {e}") from None
    return cfg


def to_bytes(cfg: dict) -> bytes:
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def masked(cfg: dict) -> dict:
    """A copy safe to show: every secret replaced by MASK."""
    out = json.loads(json.dumps(cfg))
    for section, key in SECRET_KEYS:
        if out.get(section, {}).get(key):
            out[section][key] = MASK
    return out
