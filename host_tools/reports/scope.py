"""Which lamps a report covers: poles of a site (a district, a street), each
with its rating, lamp type and the history sources (boards) that stood on it."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from ..boards import BoardTypeError, load_board_type
from ..inventory.db import Inventory
from ..inventory.errors import InventoryError


@dataclass
class Lamp:
    pole: str
    district: str
    street: str
    position: int
    lat: float
    lon: float
    rated_w: float
    lamp_type: str
    sources: list[int] = field(default_factory=list)
    estimated: bool = False


@functools.lru_cache(maxsize=None)
def _board_rating(board_type: str) -> float:
    return load_board_type(board_type)["lamp"]["rated_power_w"]


def lamp_rating(attrs: dict, board_type: str | None) -> tuple[float, str]:
    """(rated W, lamp type): the GIS's `rated_power_w`/`lamp_type` columns where
    the import carried them, else the board type's lamp rating."""
    rated = attrs.get("rated_power_w")
    if rated in (None, ""):
        try:
            rated = _board_rating(board_type or "esp32-devkitc")
        except BoardTypeError:
            raise InventoryError(f"no rated power: the GIS import has no rated_power_w and board type "
                                 f"{board_type!r} is not one of board_configs/") from None
    try:
        rated = float(rated)
    except ValueError:
        raise InventoryError(f"rated_power_w {rated!r} is not a number") from None
    return rated, str(attrs.get("lamp_type") or f"LED {rated:g} W")


def lamps(inv: Inventory, site: str, district: str | None = None, street: str | None = None) -> list[Lamp]:
    where, args = ["d.site_id = ?"], [site]
    if district:
        where.append("d.name = ?")
        args.append(district)
    if street:
        where.append("s.name = ?")
        args.append(street)
    rows = inv.query(f"""
        SELECT p.id, d.name AS district, s.name AS street, p.position, p.lat, p.lon, p.attrs, b.board_type
        FROM poles p JOIN streets s ON s.id = p.street_id JOIN districts d ON d.id = s.district_id
        LEFT JOIN boards b ON b.pole_id = p.id
        WHERE {' AND '.join(where)} ORDER BY d.name, s.name, p.position""", args)
    if not rows:
        raise InventoryError(f"no poles in {' / '.join(x for x in (site, district, street) if x)}")
    out = {}
    for r in rows:
        try:
            rating = lamp_rating(json.loads(r["attrs"]), r["board_type"])
        except InventoryError as e:
            raise InventoryError(f"pole {r['id']}: {e}") from None
        out[r["id"]] = Lamp(r["id"], r["district"], r["street"], r["position"], r["lat"], r["lon"], *rating)
    for s in inv.query("SELECT id, pole_id, estimated FROM hist_sources WHERE pole_id IS NOT NULL"):
        lamp = out.get(s["pole_id"])
        if lamp:
            lamp.sources.append(s["id"])
            lamp.estimated |= bool(s["estimated"])
    return list(out.values())
