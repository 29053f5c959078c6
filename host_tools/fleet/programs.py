"""The fleet's library of program documents, by the digest a board reports
(`program_hash` in its state): what lets a roll-back or a sync send a board
the very program it had, from the hash alone."""
from __future__ import annotations

import json

from ..inventory.db import Inventory, now
from ..paths import firmware_module

_digest = firmware_module("digest")
_program = firmware_module("program")


def check(doc: dict) -> dict:
    """The document, if the firmware's own rules accept it (ValueError names what is wrong)."""
    _program.Program(doc)
    return doc


def remember(inv: Inventory, doc: dict) -> str:
    h = _digest.digest(doc)
    with inv.transaction():
        inv.conn.execute("INSERT OR IGNORE INTO fleet_programs (hash, program_id, doc, added_at) VALUES (?, ?, ?, ?)",
                         (h, doc.get("id"), json.dumps(doc, sort_keys=True), now()))
    return h


def get(inv: Inventory, h: str) -> dict | None:
    row = inv.one("SELECT doc FROM fleet_programs WHERE hash = ?", (h,))
    return json.loads(row["doc"]) if row else None


def digest(doc: dict) -> str:
    return _digest.digest(doc)
