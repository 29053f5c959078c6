"""A lamp replaced in the field: the board is told (its burn hours and cycles
start again, and constant light output with them) and the host keeps the
record: the old lamp's hours in the audit log and in the board's history."""
from __future__ import annotations

from ..audit import record
from ..inventory import boards
from ..inventory.db import Inventory, default_actor
from . import command_log, targets
from .commander import OK, Commander


def lamp_replaced(inv: Inventory, commander: Commander, device: str, burn_h: int = 0, note: str = "",
                  timeout: float = 10.0, retries: int = 1, actor: str | None = None) -> dict:
    """Send `lamp_replaced` to one board and record the outcome; returns
    {id, device, outcome, error, burn_h, burn_h_was, cycles_was}."""
    actor = actor or default_actor()
    target = targets.boards(commander.site, [device])
    fields = {"burn_h": burn_h}

    def on_sent(cmd_id, _payload):
        command_log.sent(inv, cmd_id, commander.site, "lamp_replaced", fields, target.label, target.topics,
                         target.devices, actor)

    out = commander.send("lamp_replaced", fields, target, timeout, retries, on_sent=on_sent)
    command_log.answered(inv, out.cmd_id, out.results)
    outcome, error = out.results[device]
    ack = out.answers.get(device, {})
    report = {"id": out.cmd_id, "device": device, "outcome": outcome, "error": error, "burn_h": burn_h,
              "burn_h_was": ack.get("burn_h_was"), "cycles_was": ack.get("cycles_was")}
    detail = {k: report[k] for k in ("id", "burn_h", "burn_h_was", "cycles_was", "error") if report[k] is not None}
    if note:
        detail["note"] = note
    record(inv, "fleet.lamp_replaced", device, outcome, detail, actor)
    board = inv.one("SELECT chip_id FROM boards WHERE device_id = ?", (device,))
    if outcome == OK and board is not None:
        boards.field_event(inv, board["chip_id"], "lamp_replaced", actor, **detail)
    return report
