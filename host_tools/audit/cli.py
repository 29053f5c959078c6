"""`pilotlight audit`: who did what to which lamps, and whether the log is intact."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from ..cli_support import EXIT_REFUSED, err, open_db, out
from ..inventory.db import default_path
from .log import entries, head as log_head, parse_anchor, verify as verify_log

EXIT_TAMPERED = 1


@click.group(invoke_without_command=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="PILOTLIGHT_INVENTORY",
              default=None, help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.option("--action", help="Only this action or its kind (e.g. 'fleet.command', 'rollout', 'broker').")
@click.option("--actor", help="Only what this person did (user@host, or $PILOTLIGHT_ACTOR as they set it).")
@click.option("--target", help="Only this target or those starting so (e.g. 'district:centre', 'board:').")
@click.option("--since", help="From this UTC time on (2026-11-27 or 2026-11-27T22:00:00Z).")
@click.option("--until", help="Up to this UTC time.")
@click.option("--last", "limit", type=click.IntRange(1), help="Only the last N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def audit(ctx, db, action, actor, target, since, until, limit, as_json):
    """The audit log of operator actions: commands, roll-outs, sync, provisioning,
    retirement, broker accounts. Append-only and hash-chained.

    \b
      pilotlight audit --last 20
      pilotlight audit --action rollout --since 2026-11-27
      pilotlight audit --target district:centre --json
      pilotlight audit verify            exit 1 if an entry was edited or removed
      pilotlight audit head              the anchor to keep elsewhere (ticket, e-mail, paper)
      pilotlight audit verify --anchor 412:9f2c...   also exit 1 if the log was cut short since

    Exit codes: 0 done (verify: intact), 1 verify found tampering, 3 refused.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_path()
    if ctx.invoked_subcommand is not None:
        return
    with open_db(ctx) as inv:
        found = entries(inv, action, actor, target, since, until, limit)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in found]))
        return
    t = Table(title=f"audit log: {len(found)} entries")
    for col in ("#", "at (UTC)", "actor", "action", "target", "outcome", "detail"):
        t.add_column(col)
    for e in found:
        t.add_row(str(e.id), e.at, e.actor, e.action, e.target, e.outcome,
                  json.dumps(e.detail, separators=(",", ":"))[:80])
    out.print(t)


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def head(ctx, as_json):
    """The last entry as an anchor (ID:HASH). Keep it outside the inventory: a log cut
    short after it still chains, and only `verify --anchor` against it finds that."""
    with open_db(ctx) as inv:
        last = log_head(inv)
    if last is None:
        err.print("[red]error:[/red] the audit log is empty", highlight=False)
        sys.exit(EXIT_REFUSED)
    if as_json:
        click.echo(json.dumps({"id": last[0], "hash": last[1], "anchor": f"{last[0]}:{last[1]}"}))
    else:
        click.echo(f"{last[0]}:{last[1]}")


@audit.command()
@click.option("--anchor", "anchors", multiple=True, metavar="ID:HASH",
              help="An anchor from `audit head` kept elsewhere; the log must still hold it. Repeatable.")
@click.pass_context
def verify(ctx, anchors):
    """Check the hash chain: any edited, removed or inserted entry is named; with
    anchors, a log cut short or replaced since they were taken is caught too."""
    try:
        anchors = [parse_anchor(a) for a in anchors]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--anchor") from None
    with open_db(ctx) as inv:
        problems = verify_log(inv, anchors)
        count = inv.one("SELECT COUNT(*) FROM audit_log")[0]
    if problems:
        for p in problems:
            err.print(f"[red]tampered:[/red] {p}", highlight=False)
        sys.exit(EXIT_TAMPERED)
    out.print(f"audit log intact: {count} entries, chain verified")
