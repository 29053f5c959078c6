"""Which boards a command is for, and which topics reach them: a group command
to a street or a district is one publish on the group's topic (every board of
the group subscribes to it), a hand-picked set is one publish per board."""
from __future__ import annotations

from dataclasses import dataclass

from ..inventory.db import Inventory
from ..inventory.errors import NotFound

LIVE = ("provisioned", "commissioned")   # boards that run with an account and listen


@dataclass(frozen=True)
class Target:
    label: str                 # for people and the audit log: 'district:centre', 'board:240ac4...'
    devices: tuple[str, ...]   # who must answer
    topics: tuple[str, ...]    # where the command goes (without /cmd/{name})


_BOARDS = """
    SELECT b.device_id FROM boards b JOIN poles p ON p.id = b.pole_id JOIN streets s ON s.id = p.street_id
    JOIN districts d ON d.id = s.district_id WHERE d.site_id = ? AND b.state IN ('provisioned', 'commissioned')
"""


def _devices(inv: Inventory, where: str = "", args=()) -> tuple[str, ...]:
    return tuple(r[0] for r in inv.query(_BOARDS + where + " ORDER BY d.id, s.id, p.position", args))


def site(inv: Inventory, site_id: str) -> Target:
    districts = [r["slug"] for r in inv.query("SELECT slug FROM districts WHERE site_id = ? ORDER BY id", (site_id,))]
    return Target(f"site:{site_id}", _devices(inv, "", (site_id,)),
                  tuple(f"pl/{site_id}/group/{d}" for d in districts))


def district(inv: Inventory, site_id: str, name: str) -> Target:
    row = inv.one("SELECT id, slug FROM districts WHERE site_id = ? AND (name = ? OR slug = ?)", (site_id, name, name))
    if row is None:
        raise NotFound(f"district {name!r} is not in site {site_id}")
    return Target(f"district:{row['slug']}", _devices(inv, " AND d.id = ?", (site_id, row["id"])),
                  (f"pl/{site_id}/group/{row['slug']}",))


def street(inv: Inventory, site_id: str, name: str) -> Target:
    rows = inv.query("SELECT s.id, d.slug || '.' || s.slug AS grp FROM streets s JOIN districts d ON d.id = s.district_id"
                     " WHERE d.site_id = ? AND (s.name = ? OR s.slug = ? OR d.slug || '.' || s.slug = ?)",
                     (site_id, name, name, name))
    if not rows:
        raise NotFound(f"street {name!r} is not in site {site_id}")
    if len(rows) > 1:
        raise NotFound(f"street {name!r} is in several districts: give its group ({', '.join(r['grp'] for r in rows)})")
    return Target(f"street:{rows[0]['grp']}", _devices(inv, " AND s.id = ?", (site_id, rows[0]["id"])),
                  (f"pl/{site_id}/group/{rows[0]['grp']}",))


def group(inv: Inventory, site_id: str, name: str) -> Target:
    """A custom group, or a district's or a street's by its group name."""
    if inv.one("SELECT 1 FROM districts WHERE site_id = ? AND slug = ?", (site_id, name)):
        return district(inv, site_id, name)
    if "." in name:
        return street(inv, site_id, name)
    row = inv.one("SELECT id FROM groups WHERE site_id = ? AND name = ?", (site_id, name))
    if row is None:
        raise NotFound(f"group {name!r} is not in site {site_id}")
    devices = _devices(inv, " AND b.chip_id IN (SELECT chip_id FROM group_members WHERE group_id = ?)",
                       (site_id, row["id"]))
    return Target(f"group:{name}", devices, (f"pl/{site_id}/group/{name}",))


def boards(site_id: str, devices, label: str | None = None) -> Target:
    """These boards, one publish each (a filter's result, a retry, a roll-out wave)."""
    devices = tuple(dict.fromkeys(devices))
    return Target(label or ("board:" + devices[0] if len(devices) == 1 else f"boards:{len(devices)}"), devices,
                  tuple(f"pl/{site_id}/{d}" for d in devices))


def narrowed(t: Target, site_id: str, keep: set[str], why: str) -> Target:
    """A scope narrowed by a filter: the chosen boards, one publish each."""
    return boards(site_id, [d for d in t.devices if d in keep], f"{t.label}+{why}")
