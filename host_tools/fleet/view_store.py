"""Board views in the inventory database (table fleet_boards), and the
collector's own notes (fleet_meta)."""
from __future__ import annotations

import json
from dataclasses import fields

from ..inventory.db import Inventory
from .board_view import BoardView

_JSON = ("faults", "reset_causes", "seq_missing")
COLUMNS = [f.name for f in fields(BoardView)]
_UPSERT = (f"INSERT OR REPLACE INTO fleet_boards ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")


def row(v: BoardView) -> tuple:
    """The view as a table row (a snapshot: the view may change on right after)."""
    out = []
    for name in COLUMNS:
        value = getattr(v, name)
        if name in _JSON:
            value = json.dumps(value)
        elif name == "online" and value is not None:
            value = int(value)
        out.append(value)
    return tuple(out)


def _view(row) -> BoardView:
    kw = {name: row[name] for name in COLUMNS}
    for name in _JSON:
        kw[name] = json.loads(kw[name])
    if kw["online"] is not None:
        kw["online"] = bool(kw["online"])
    return BoardView(**kw)


def load(inv: Inventory, site: str | None = None) -> dict[str, BoardView]:
    sql, args = "SELECT * FROM fleet_boards", ()
    if site is not None:
        sql, args = sql + " WHERE site_id = ?", (site,)
    return {r["device_id"]: _view(r) for r in inv.query(sql, args)}


def save(inv: Inventory, views) -> None:
    save_rows(inv, [row(v) for v in views])


def save_rows(inv: Inventory, rows: list[tuple]) -> None:
    with inv.transaction():
        inv.conn.executemany(_UPSERT, rows)


def get_meta(inv: Inventory, key: str) -> str | None:
    row = inv.one("SELECT value FROM fleet_meta WHERE key = ?", (key,))
    return row["value"] if row else None


def set_meta(inv: Inventory, key: str, value: str) -> None:
    with inv.transaction():
        inv.conn.execute("INSERT OR REPLACE INTO fleet_meta (key, value) VALUES (?, ?)", (key, value))
