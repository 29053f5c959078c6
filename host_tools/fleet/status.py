"""`fleet status` as data: every board of a site on its pole, in street order,
with what the collector last heard from it."""
from __future__ import annotations

import json
import time

from ..inventory.db import Inventory

_SELECT = """
    SELECT d.name AS district, d.slug AS district_slug, s.name AS street, s.slug AS street_slug,
           p.position, p.id AS pole, b.chip_id, b.device_id, b.state AS lifecycle, f.*
    FROM boards b JOIN poles p ON p.id = b.pole_id JOIN streets s ON s.id = p.street_id
    JOIN districts d ON d.id = s.district_id
    LEFT JOIN fleet_boards f ON f.device_id = b.device_id
    WHERE d.site_id = ? AND b.state != 'retired'
"""


def rows(inv: Inventory, site: str, district: str | None = None, street: str | None = None) -> list[dict]:
    """One dict per board: where it stands, and its view (None where never heard)."""
    sql, args = _SELECT, [site]
    if district:
        sql += " AND (d.name = ? OR d.slug = ?)"
        args += [district, district]
    if street:
        sql += " AND (s.name = ? OR s.slug = ? OR d.slug || '.' || s.slug = ?)"
        args += [street, street, street]
    sql += " ORDER BY d.id, s.id, p.position, p.seq"
    out = []
    for r in inv.query(sql, args):
        d = dict(r)
        d["street_group"] = f"{r['district_slug']}.{r['street_slug']}"
        for key in ("faults", "reset_causes", "seq_missing"):
            d[key] = json.loads(d[key]) if d.get(key) else ([] if key != "reset_causes" else {})
        d["online"] = None if d.get("online") is None else bool(d["online"])
        d["gaps"] = (d.get("seq_gaps") or 0) + len(d["seq_missing"])
        out.append(d)
    return out


def select(board_rows: list[dict], offline: bool = False, faulty: bool = False, fw: str | None = None,
           drifted: set[str] | None = None) -> list[dict]:
    """The filters of `fleet status`; `drifted` is the set of device ids that drift."""
    out = board_rows
    if offline:
        out = [r for r in out if not r["online"]]
    if faulty:
        out = [r for r in out if r["faults"]]
    if fw is not None:
        out = [r for r in out if r.get("fw") == fw]
    if drifted is not None:
        out = [r for r in out if r["device_id"] in drifted]
    return out


def status_word(r: dict) -> str:
    if r["online"] is None:
        return "never seen"
    return "online" if r["online"] else "offline"


def ago(t: float | None, now: float | None = None) -> str:
    if t is None:
        return "-"
    s = max(0, int((now or time.time()) - t))
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"


def summary(board_rows: list[dict]) -> dict:
    return {"boards": len(board_rows), "online": sum(1 for r in board_rows if r["online"]),
            "offline": sum(1 for r in board_rows if r["online"] is False),
            "never_seen": sum(1 for r in board_rows if r["online"] is None),
            "faulty": sum(1 for r in board_rows if r["faults"]), "seq_gaps": sum(r["gaps"] for r in board_rows),
            "duplicates": sum(r.get("duplicates") or 0 for r in board_rows)}
