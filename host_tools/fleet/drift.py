"""Drift: a board's reported program and settings hashes against the ones its
desired state predicts, computed with the firmware's own digest module
(firmware/lampctl/digest.py) so host and board cannot disagree; and its
firmware version against the desired release."""
from __future__ import annotations

from ..inventory.db import Inventory
from ..paths import firmware_module
from . import desired as desired_mod
from . import programs

_digest = firmware_module("digest")


def expected(inv: Inventory, site: str, board_rows: list[dict]) -> dict[str, dict]:
    """device -> {"program_hash", "config_hash", "firmware", "settings"} it should report."""
    tz_row = inv.one("SELECT tz FROM sites WHERE id = ?", (site,))
    site_tz = tz_row["tz"] if tz_row else None
    out = {}
    for device, want in desired_mod.resolve(inv, site, board_rows).items():
        settings = desired_mod.managed_settings(want, site_tz)
        cfg = {k: v for k, v in settings.items() if k != "tz"}
        if settings["tz"] is not None:
            cfg["location"] = {"tz": settings["tz"]}   # where config.json keeps it
        out[device] = {"program_hash": want.get("program"), "firmware": want.get("firmware"), "settings": settings,
                       "config_hash": _digest.config_hash(cfg)}
    return out


def drift_report(inv: Inventory, site: str, board_rows: list[dict]) -> dict[str, list[dict]]:
    """device -> its differences (empty when in line); boards never heard have none to report."""
    want = expected(inv, site, board_rows)
    report = {}
    for row in board_rows:
        d = row["device_id"]
        diffs = []
        if row.get("state_at") is None:
            report[d] = diffs
            continue
        w = want[d]
        if w["program_hash"] and row.get("program_hash") != w["program_hash"]:
            doc = programs.get(inv, w["program_hash"]) or {}
            diffs.append({"key": "program", "has": f"{row.get('program')} ({row.get('program_hash')})",
                          "wants": f"{doc.get('id')} ({w['program_hash']})"})
        if row.get("config_hash") != w["config_hash"]:
            diffs.append({"key": "config", "has": row.get("config_hash"), "wants": w["config_hash"]})
        if w["firmware"] and row.get("fw") != w["firmware"]:
            diffs.append({"key": "firmware", "has": row.get("fw"), "wants": w["firmware"]})
        report[d] = diffs
    return report
