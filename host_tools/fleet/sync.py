"""`fleet sync`: send every drifted board what its desired state says, one
command per distinct fix (the boards needing the same program share a command
id), and report each board's answer."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..audit import record
from ..inventory.db import Inventory
from . import programs, targets
from .commander import Commander
from .dispatch import command
from .drift import drift_report, expected


@dataclass
class Fix:
    key: str                  # program / config / firmware
    name: str | None          # the command that fixes it (None: not by a command, e.g. firmware needs OTA)
    fields: dict
    devices: list[str]
    why: str


def plan(inv: Inventory, site: str, board_rows: list[dict]) -> list[Fix]:
    report = drift_report(inv, site, board_rows)
    want = expected(inv, site, board_rows)
    fixes: dict[tuple, Fix] = {}
    for device, diffs in report.items():
        for diff in diffs:
            w = want[device]
            if diff["key"] == "program":
                doc = programs.get(inv, w["program_hash"])
                key = ("program", w["program_hash"])
                fix = Fix("program", "program", {"program": doc}, [], f"program {diff['wants']}") if doc else \
                    Fix("program", None, {}, [], f"program {w['program_hash']} is not in the library")
            elif diff["key"] == "config":
                settings = {k: v for k, v in w["settings"].items() if v is not None}
                key = ("config", json.dumps(settings, sort_keys=True))
                fix = Fix("config", "config", {"set": settings}, [], f"settings {diff['wants']}")
            else:
                key = ("firmware", w["firmware"])
                fix = Fix("firmware", None, {}, [], f"firmware {w['firmware']}: needs an OTA roll-out")
            fixes.setdefault(key, fix).devices.append(device)
    return list(fixes.values())


def run(inv: Inventory, commander: Commander, site: str, fixes: list[Fix], timeout: float = 10.0,
        retries: int = 1, actor: str | None = None) -> list[dict]:
    results = []
    for fix in fixes:
        if fix.name is None:
            results.append({"fix": fix.why, "boards": fix.devices, "sent": False})
            continue
        target = targets.boards(site, fix.devices, f"drift:{fix.key}")
        out = command(inv, commander, fix.name, fix.fields, target, timeout, retries, action="fleet.sync", actor=actor)
        results.append({"fix": fix.why, "sent": True, "command": out.to_dict()})
    if not fixes:
        record(inv, "fleet.sync", f"site:{site}", "nothing drifted", actor=actor)
    return results
