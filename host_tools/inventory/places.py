"""Sites, districts, streets and poles: where the lamps stand."""
from __future__ import annotations

import json

from . import names
from .db import Inventory, now
from .errors import Conflict, NotFound
from .model import Pole, Site

_POLE_SELECT = """
    SELECT p.id, d.site_id AS site, d.name AS district, s.name AS street, p.position, p.lat, p.lon,
           p.attrs, s.slug AS street_slug, d.slug AS district_slug, b.chip_id AS board
    FROM poles p JOIN streets s ON s.id = p.street_id JOIN districts d ON d.id = s.district_id
    LEFT JOIN boards b ON b.pole_id = p.id
"""


def _pole(row) -> Pole:
    return Pole(id=row["id"], site=row["site"], district=row["district"], street=row["street"],
                position=row["position"], lat=row["lat"], lon=row["lon"], attrs=json.loads(row["attrs"]),
                street_group=f"{row['district_slug']}.{row['street_slug']}", district_group=row["district_slug"],
                board=row["board"])


def ensure_site(inv: Inventory, site_id: str, name: str | None = None, tz: str | None = None) -> Site:
    """The site, created if new; a given name or TZ updates it."""
    names.site_id(site_id)
    with inv.transaction():
        row = inv.one("SELECT * FROM sites WHERE id = ?", (site_id,))
        if row is None:
            inv.conn.execute("INSERT INTO sites (id, name, tz, created_at) VALUES (?, ?, ?, ?)",
                             (site_id, name or site_id, tz, now()))
        elif name or tz:
            inv.conn.execute("UPDATE sites SET name = ?, tz = ? WHERE id = ?",
                             (name or row["name"], tz or row["tz"], site_id))
    return get_site(inv, site_id)


def get_site(inv: Inventory, site_id: str) -> Site:
    row = inv.one("SELECT id, name, tz FROM sites WHERE id = ?", (site_id,))
    if row is None:
        raise NotFound(f"site {site_id!r} is not in the inventory")
    return Site(**dict(row))


def list_sites(inv: Inventory) -> list[Site]:
    return [Site(**dict(r)) for r in inv.query("SELECT id, name, tz FROM sites ORDER BY id")]


def _free_slug(taken, base: str) -> str:
    candidate, n = base, 2
    while taken(candidate):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def ensure_district(inv: Inventory, site_id: str, name: str) -> int:
    row = inv.one("SELECT id FROM districts WHERE site_id = ? AND name = ?", (site_id, name))
    if row:
        return row["id"]
    def taken(s):  # a district's slug is also its group name: it must not shadow a custom group
        return inv.one("SELECT 1 FROM districts WHERE site_id = ? AND slug = ? UNION "
                       "SELECT 1 FROM groups WHERE site_id = ? AND name = ?", (site_id, s, site_id, s))
    slug = _free_slug(taken, names.slug(name) or "district")
    return inv.conn.execute("INSERT INTO districts (site_id, name, slug) VALUES (?, ?, ?)",
                            (site_id, name, slug)).lastrowid


def ensure_street(inv: Inventory, district_id: int, name: str) -> int:
    row = inv.one("SELECT id FROM streets WHERE district_id = ? AND name = ?", (district_id, name))
    if row:
        return row["id"]
    slug = _free_slug(lambda s: inv.one("SELECT 1 FROM streets WHERE district_id = ? AND slug = ?",
                                        (district_id, s)), names.slug(name) or "street")
    return inv.conn.execute("INSERT INTO streets (district_id, name, slug) VALUES (?, ?, ?)",
                            (district_id, name, slug)).lastrowid


def get_pole(inv: Inventory, pole_id: str) -> Pole:
    row = inv.one(_POLE_SELECT + " WHERE p.id = ?", (pole_id,))
    if row is None:
        raise NotFound(f"pole {pole_id!r} is not in the inventory")
    return _pole(row)


def list_poles(inv: Inventory, site: str | None = None, district: str | None = None,
               street: str | None = None, free: bool | None = None) -> list[Pole]:
    """Poles in import order, filtered; `free` True/False keeps poles without/with a board."""
    where, args = [], []
    for column, value in (("d.site_id", site), ("d.name", district), ("s.name", street)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if free is not None:
        where.append("b.chip_id IS NULL" if free else "b.chip_id IS NOT NULL")
    sql = _POLE_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.seq"
    return [_pole(r) for r in inv.query(sql, args)]


def find_street(inv: Inventory, street: str, district: str | None = None, site: str | None = None) -> int:
    """The one street of that name (narrowed by district/site), or a clear error."""
    sql = ("SELECT s.id, d.name AS district, d.site_id AS site FROM streets s "
           "JOIN districts d ON d.id = s.district_id WHERE s.name = ?")
    args: list = [street]
    if district is not None:
        sql += " AND d.name = ?"
        args.append(district)
    if site is not None:
        sql += " AND d.site_id = ?"
        args.append(site)
    rows = inv.query(sql, args)
    if not rows:
        raise NotFound(f"street {street!r} is not in the inventory" + (f" (district {district!r})" if district else ""))
    if len(rows) > 1:
        where = ", ".join(f"{r['site']}/{r['district']}" for r in rows)
        raise Conflict(f"street {street!r} exists in several districts ({where}): name the district")
    return rows[0]["id"]


def next_free_pole(inv: Inventory, street: str, district: str | None = None, site: str | None = None) -> Pole | None:
    """The first pole along the street (lowest position) with no board, or None when all are taken."""
    street_id = find_street(inv, street, district, site)
    row = inv.one(_POLE_SELECT + " WHERE p.street_id = ? AND b.chip_id IS NULL ORDER BY p.position, p.seq LIMIT 1",
                  (street_id,))
    return _pole(row) if row else None
