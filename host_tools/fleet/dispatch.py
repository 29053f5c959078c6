"""A command as an operator action: sent, answered, kept (command log, program
library) and written to the audit log, whatever the outcome."""
from __future__ import annotations

from ..audit import record
from ..inventory.db import Inventory
from . import command_log, programs
from .commander import Commander, Outcome
from .targets import Target


def _brief(name: str, fields: dict) -> dict:
    """What the audit keeps of the fields: a program by its id and digest, not the whole document."""
    if name == "program" and isinstance(fields.get("program"), dict):
        return {"program": fields["program"].get("id"), "program_hash": programs.digest(fields["program"])}
    return fields


def command(inv: Inventory, commander: Commander, name: str, fields: dict, target: Target, timeout: float = 10.0,
            retries: int = 1, action: str | None = None, actor: str | None = None) -> Outcome:
    if name == "program":
        programs.remember(inv, fields["program"])
    action = action or f"fleet.command.{name}"

    def on_sent(cmd_id, _payload):
        command_log.sent(inv, cmd_id, commander.site, name, fields, target.label, target.topics, target.devices, actor)

    try:
        out = commander.send(name, fields, target, timeout, retries, on_sent=on_sent)
    except Exception as e:
        record(inv, action, target.label, f"failed: {e}", _brief(name, fields), actor)
        raise
    command_log.answered(inv, out.cmd_id, out.results)
    refused = {d: e for d, (o, e) in out.results.items() if o == "refused"}
    record(inv, action, target.label, out.summary(),
           {"id": out.cmd_id, **_brief(name, fields), "boards": len(target.devices),
            "refused": dict(list(refused.items())[:20]), "silent": out.devices("silent")[:20]}, actor)
    return out
