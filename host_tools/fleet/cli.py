"""`pilotlight fleet ...`: the operator's side of the MQTT contract."""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click
from rich.console import Console

from ..inventory.db import default_path, open_inventory
from ..inventory.errors import InventoryError
from . import status as status_mod
from .account import fleet_login
from .render import status_table

EXIT_FAILED = 1       # the work ran, some boards failed (see the report)
EXIT_REFUSED = 3      # refused before anything was sent

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = EXIT_REFUSED):
    err.print(f"[red]error:[/red] {message}", highlight=False)
    sys.exit(code)


def open_db(ctx):
    try:
        return open_inventory(ctx.obj["db"])
    except InventoryError as e:
        fail(str(e))


def stop_on_signals() -> threading.Event:
    """SIGTERM and SIGHUP stop a long-running tool as Ctrl-C does: cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


site_option = click.option("--site", required=True, help="The site (its id, as in MQTT topics).")
broker_options = [
    click.option("--host", default="127.0.0.1", show_default=True, help="Broker host."),
    click.option("--port", default=1883, show_default=True, type=click.IntRange(1, 65535), help="Broker port."),
]


def with_broker(f):
    for opt in reversed(broker_options):
        f = opt(f)
    return f


@click.group()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="PILOTLIGHT_INVENTORY",
              default=None, help="Inventory file [$PILOTLIGHT_INVENTORY or ~/.pilotlight/inventory.sqlite].")
@click.pass_context
def fleet(ctx, db):
    """Fleet operations over MQTT: status, commands, drift, roll-outs, the simulator.

    \b
      pilotlight fleet collect --site metz --account monitor     keep every board's view (runs until stopped)
      pilotlight fleet status --site metz --district Centre      the lamps, street by street
      pilotlight fleet status --site metz --offline --json       what is offline, as data
      pilotlight fleet watch --site metz                         the same, live

    Exit codes: 0 done, 1 some boards failed, 2 bad command line, 3 refused.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_path()


@fleet.command()
@site_option
@with_broker
@click.option("--account", default="monitor", show_default=True, help="Fleet account (a monitor is enough).")
@click.pass_context
def collect(ctx, site, host, port, account):
    """Keep every board's view in the inventory until stopped (Ctrl-C, SIGTERM, SIGHUP).

    \b
      pilotlight fleet collect --site metz --port 1883 --account monitor
    """
    from .collector import Collector
    with open_db(ctx) as inv:
        try:
            user, password = fleet_login(inv, account)
        except Exception as e:  # noqa: BLE001 - a clear line, not a traceback
            fail(str(e))
    collector = Collector(ctx.obj["db"], site, host, port, user, password)
    stop = stop_on_signals()
    err.print(f"collecting pl/{site}/+/+ from {host}:{port} as {user}; Ctrl-C stops")
    collector.run(stop)
    err.print(f"stopped after {collector.received} messages")


@fleet.command()
@site_option
@click.option("--district", help="Only this district (name or slug).")
@click.option("--street", help="Only this street (name, slug or street group).")
@click.option("--offline", is_flag=True, help="Only boards that are offline or never seen.")
@click.option("--faulty", is_flag=True, help="Only boards with a fault raised.")
@click.option("--drift", is_flag=True, help="Only boards whose program or settings differ from the desired ones.")
@click.option("--fw", help="Only boards running this firmware version.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx, site, district, street, offline, faulty, drift, fw, as_json):
    """The site's boards by district and street, in street order, as last heard.

    \b
      pilotlight fleet status --site metz
      pilotlight fleet status --site metz --street "Rue A" --faulty
      pilotlight fleet status --site metz --fw 0.1.0 --json
    """
    with open_db(ctx) as inv:
        board_rows = status_mod.rows(inv, site, district, street)
        drifted = None
        if drift:
            from .drift import drift_report
            drifted = {d for d, diffs in drift_report(inv, site, board_rows).items() if diffs}
    chosen = status_mod.select(board_rows, offline, faulty, fw, drifted)
    if as_json:
        click.echo(json.dumps({"summary": status_mod.summary(chosen), "boards": chosen}, default=str))
        return
    out.print(status_table(chosen, f"site {site}"))


@fleet.command()
@site_option
@click.option("--district", help="Only this district.")
@click.option("--street", help="Only this street.")
@click.option("--every", default=1.0, show_default=True, type=click.FloatRange(0.2, 60), help="Refresh period (s).")
@click.pass_context
def watch(ctx, site, district, street, every):
    """A live view of `fleet status` (needs `fleet collect` running). Ctrl-C stops.

    \b
      pilotlight fleet watch --site metz --street "Rue A"
    """
    from rich.live import Live
    stop = stop_on_signals()
    with open_db(ctx) as inv, Live(console=out, auto_refresh=False) as live:
        while not stop.is_set():
            board_rows = status_mod.rows(inv, site, district, street)
            live.update(status_table(board_rows, f"site {site} (live)"), refresh=True)
            stop.wait(every)


def register(cli_group) -> None:
    from .sim.cli import sim
    fleet.add_command(sim)
    cli_group.add_command(fleet)
