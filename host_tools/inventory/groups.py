"""Groups a board listens to for commands and neighbour presence.

Every district and every street is a group by itself (names `<district>` and
`<district>.<street>`, from their slugs); custom groups (a name without a dot)
are added by hand, per site."""
from __future__ import annotations

from . import boards, names
from .db import Inventory
from .errors import Conflict, NotFound


def create(inv: Inventory, site: str, name: str, description: str = "") -> None:
    names.group_name(name)
    with inv.transaction():
        if inv.one("SELECT 1 FROM sites WHERE id = ?", (site,)) is None:
            raise NotFound(f"site {site!r} is not in the inventory")
        if inv.one("SELECT 1 FROM districts WHERE site_id = ? AND slug = ?", (site, name)):
            raise Conflict(f"group {name!r} is already the group of the district of that name")
        if inv.one("SELECT 1 FROM groups WHERE site_id = ? AND name = ?", (site, name)):
            raise Conflict(f"group {name!r} already exists in site {site}")
        inv.conn.execute("INSERT INTO groups (site_id, name, description) VALUES (?, ?, ?)", (site, name, description))


def _custom_group_id(inv: Inventory, site: str, name: str) -> int:
    row = inv.one("SELECT id FROM groups WHERE site_id = ? AND name = ?", (site, name))
    if row is None:
        raise NotFound(f"group {name!r} is not a custom group of site {site}")
    return row["id"]


def add_board(inv: Inventory, site: str, name: str, chip_id: str) -> None:
    with inv.transaction():
        board = boards.get(inv, chip_id)
        if board.site != site:
            raise Conflict(f"board {board.chip_id} is not on a pole of site {site}: bind it first")
        inv.conn.execute("INSERT OR IGNORE INTO group_members (group_id, chip_id) VALUES (?, ?)",
                         (_custom_group_id(inv, site, name), board.chip_id))


def remove_board(inv: Inventory, site: str, name: str, chip_id: str) -> None:
    with inv.transaction():
        inv.conn.execute("DELETE FROM group_members WHERE group_id = ? AND chip_id = ?",
                         (_custom_group_id(inv, site, name), names.chip_id(chip_id)))


def for_board(inv: Inventory, chip_id: str) -> list[str]:
    """The board's groups: its district, its street, then its custom groups (none without a pole)."""
    board = boards.get(inv, chip_id)
    if not board.pole_id:
        return []
    row = inv.one("SELECT d.slug AS d, s.slug AS s FROM poles p JOIN streets s ON s.id = p.street_id "
                  "JOIN districts d ON d.id = s.district_id WHERE p.id = ?", (board.pole_id,))
    custom = inv.query("SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id "
                       "WHERE m.chip_id = ? AND g.site_id = ? ORDER BY g.name", (board.chip_id, board.site))
    return [row["d"], f"{row['d']}.{row['s']}"] + [r["name"] for r in custom]


def list_groups(inv: Inventory, site: str) -> list[dict]:
    """Every group of a site with its kind and how many boards are in it."""
    out = []
    for d in inv.query("SELECT id, name, slug FROM districts WHERE site_id = ? ORDER BY slug", (site,)):
        out.append({"name": d["slug"], "kind": "district", "of": d["name"], "boards": _count(
            inv, "JOIN streets s ON s.id = p.street_id WHERE s.district_id = ?", d["id"])})
        for s in inv.query("SELECT id, name, slug FROM streets WHERE district_id = ? ORDER BY slug", (d["id"],)):
            out.append({"name": f"{d['slug']}.{s['slug']}", "kind": "street", "of": s["name"],
                        "boards": _count(inv, "WHERE p.street_id = ?", s["id"])})
    for g in inv.query("SELECT g.name, g.description, COUNT(m.chip_id) AS n FROM groups g "
                       "LEFT JOIN group_members m ON m.group_id = g.id WHERE g.site_id = ? GROUP BY g.id ORDER BY g.name",
                       (site,)):
        out.append({"name": g["name"], "kind": "custom", "of": g["description"], "boards": g["n"]})
    return out


def _count(inv: Inventory, where: str, arg) -> int:
    return inv.one(f"SELECT COUNT(*) FROM boards b JOIN poles p ON p.id = b.pole_id {where}", (arg,))[0]
