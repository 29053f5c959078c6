"""Simulated lamps enter the inventory as boards do: a board record on a free
pole, its own broker account, and a config.json as provisioning renders it
(here kept in the simulator's home, 0600, instead of on a flash)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...broker import credentials
from ...broker.files import write_private
from ...inventory import boards, groups, places
from ...inventory.db import Inventory

SIM_BOARD_TYPE = "sim-lamp"
CHIP_PREFIX = "5e"     # chip ids of simulated lamps: 5e + 10 hex digits from the pole id


def chip_for(pole_id: str) -> str:
    return CHIP_PREFIX + hashlib.sha256(pole_id.encode()).hexdigest()[:10]


def enrol(inv: Inventory, site: str, broker_host: str, broker_port: int, count: int | None = None,
          district: str | None = None, street: str | None = None, keepalive_s: int = 60) -> list[dict]:
    """Put simulated lamps on free poles (in import order) and return their configs."""
    site_rec = places.get_site(inv, site)
    with inv.transaction():   # one transaction: 10,000 lamps enrol in seconds
        poles = places.list_poles(inv, site=site, district=district, street=street, free=True)
        if count is not None:
            poles = poles[:count]
        configs = []
        for pole in poles:
            chip = chip_for(pole.id)
            boards.register(inv, chip, SIM_BOARD_TYPE, firmware_version="sim")
            boards.bind_pole(inv, chip, pole.id)
            boards.set_state(inv, chip, "provisioned", reason="simulated lamp")
            account = credentials.ensure_board_account(inv, chip)
            password = credentials.issue_password(inv, account.username)   # straight into the lamp's config
            configs.append({
                "device": {"id": chip, "site": site, "pole": pole.id, "street": pole.street_group,
                           "position": pole.position, "groups": groups.for_board(inv, chip)},
                "location": {"lat": float(pole.lat), "lon": float(pole.lon), "tz": site_rec.tz or "UTC0"},
                "mqtt": {"host": broker_host, "port": broker_port, "username": account.username,
                         "password": password, "keepalive_s": keepalive_s},
            })
    return configs


def save(configs: list[dict], path: Path) -> Path:
    """The lamps' configs hold their passwords: owner-only, like a board's flash."""
    return write_private(path, json.dumps(configs))
