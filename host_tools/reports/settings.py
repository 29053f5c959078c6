"""A site's report inputs (tariff, currency, grid factor), kept in the inventory."""
from __future__ import annotations

from ..inventory.db import Inventory
from ..inventory.errors import InventoryError

KEYS = {"tariff": float, "currency": str, "grid_kg_per_kwh": float}


def get(inv: Inventory, site: str) -> dict:
    return {r["key"]: KEYS[r["key"]](r["value"])
            for r in inv.query("SELECT key, value FROM site_settings WHERE site_id = ?", (site,)) if r["key"] in KEYS}


def put(inv: Inventory, site: str, **values) -> dict:
    if not inv.one("SELECT 1 FROM sites WHERE id = ?", (site,)):
        raise InventoryError(f"no site {site!r} in the inventory")
    for key, value in values.items():
        if value is None:
            continue
        if KEYS[key] is float and not value >= 0:
            raise InventoryError(f"{key}: {value} must be zero or more")
    with inv.transaction() as c:
        for key, value in values.items():
            if value is not None:
                c.execute("INSERT OR REPLACE INTO site_settings (site_id, key, value) VALUES (?, ?, ?)",
                          (site, key, str(value)))
    return get(inv, site)
