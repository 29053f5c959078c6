"""Commands sent and each board's answer, kept in the inventory database."""
from __future__ import annotations

import json

from ..inventory.db import Inventory, default_actor, now


def sent(inv: Inventory, cmd_id: str, site: str, name: str, payload: dict, target: str, topics, devices,
         actor: str | None = None) -> None:
    with inv.transaction():
        inv.conn.execute("INSERT INTO fleet_commands (id, site_id, name, payload, target, topics, sent_at, actor)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (cmd_id, site, name, json.dumps(payload), target, json.dumps(list(topics)), now(),
                          actor or default_actor()))
        inv.conn.executemany("INSERT OR IGNORE INTO fleet_command_results (command_id, device_id, outcome, at)"
                             " VALUES (?, ?, 'pending', ?)", [(cmd_id, d, now()) for d in devices])


def answered(inv: Inventory, cmd_id: str, results: dict[str, tuple[str, str | None]]) -> None:
    with inv.transaction():
        inv.conn.executemany("INSERT OR REPLACE INTO fleet_command_results (command_id, device_id, outcome, error, at)"
                             " VALUES (?, ?, ?, ?, ?)",
                             [(cmd_id, d, outcome, error, now()) for d, (outcome, error) in results.items()])


def results(inv: Inventory, cmd_id: str) -> dict[str, tuple[str, str | None]]:
    return {r["device_id"]: (r["outcome"], r["error"]) for r in
            inv.query("SELECT device_id, outcome, error FROM fleet_command_results WHERE command_id = ?", (cmd_id,))}
