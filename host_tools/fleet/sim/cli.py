"""`pilotlight fleet sim ...`: simulated lamps for a district, beside real boards."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ...paths import state_home
from .injection import Injection


@click.group()
def sim():
    """The district simulator: thousands of protocol-level lamps per process.

    \b
      pilotlight fleet sim enrol --site metz --broker-port 1883 --count 2000
      pilotlight broker config                        (the new accounts, then reload the broker)
      pilotlight fleet sim run --processes 2 --inject refuse:0.03:program
    """


@sim.command()
@click.option("--site", required=True)
@click.option("--district", help="Only poles of this district.")
@click.option("--street", help="Only poles of this street.")
@click.option("--count", type=click.IntRange(1), help="At most this many lamps (free poles in import order).")
@click.option("--broker-host", default="127.0.0.1", show_default=True)
@click.option("--broker-port", default=1883, show_default=True, type=click.IntRange(1, 65535))
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Simulator files [~/.pilotlight/sim].")
@click.pass_context
def enrol(ctx, site, district, street, count, broker_host, broker_port, home):
    """Put simulated lamps on free poles, with accounts and configs, as provisioning would."""
    from ...broker.files import write_private
    from ...cli_support import open_db
    from .enrol import enrol as do_enrol
    home = home or state_home() / "sim"
    lamps_file = home / "lamps.json"
    known = json.loads(lamps_file.read_text()) if lamps_file.exists() else []
    with open_db(ctx) as inv:
        configs = do_enrol(inv, site, broker_host, broker_port, count, district, street)
    write_private(lamps_file, json.dumps(known + configs))
    click.echo(f"{len(configs)} simulated lamps enrolled ({len(known) + len(configs)} in {lamps_file}); "
               f"rewrite the broker's accounts (`pilotlight broker config`) before `fleet sim run`")


@sim.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Simulator files [~/.pilotlight/sim].")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--inject", "injections", multiple=True, metavar="KIND:SHARE[:COMMAND]",
              help="Failure injection, e.g. refuse:0.03:program, silent:0.01, drop:0.005, crashloop:0.01:config.")
@click.option("--seed", default=0, show_default=True, help="Which lamps fail (the same seed, the same lamps).")
@click.option("--tele-s", type=click.FloatRange(1), help="Telemetry period for every lamp (default: its config's).")
def run(home, processes, injections, seed, tele_s):
    """Run the enrolled lamps until Ctrl-C / SIGTERM."""
    from ...signals import stop_event
    from ...cli_support import fail
    from .processes import SimFleet
    home = home or state_home() / "sim"
    lamps_file = home / "lamps.json"
    if not lamps_file.exists():
        fail(f"{lamps_file}: no simulated lamps (run `pilotlight fleet sim enrol` first)")
    try:
        parsed = [Injection.parse(i) for i in injections]
    except ValueError as e:
        fail(str(e))
    configs = json.loads(lamps_file.read_text())
    stop = stop_event()
    with SimFleet(home, configs, processes, parsed, seed, tele_s) as fleet_sim:
        while not stop.wait(2):
            st = fleet_sim.stats()
            click.echo(f"{time.strftime('%H:%M:%S')} {st['connected']}/{st['lamps']} connected", err=True)
