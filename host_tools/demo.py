"""`pilotlight demo`: the main job on the embedded default, end to end on this
machine. A street's poles go into the inventory (SQLite), a local Mosquitto
runs the fleet's accounts and ACL, virtual boards are provisioned over their
serial consoles, and the street is then run from the fleet side over MQTT."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .broker import credentials
from .broker.local import local_broker
from .fleet.watch import Watch
from .inventory import open_inventory, places
from .inventory.gis_csv import import_csv
from .signals import Stopped, stop_signals
from .paths import firmware_module
from .vboard.control import VBoardClient

topics = firmware_module("topics")

SITE, DISTRICT, STREET, TZ = "demo", "Centre", "Main Street", "CET-1CEST,M3.5.0,M10.5.0/3"
STREET_GROUP = "centre.main-street"
TONIGHT = 1795818600  # 2026-11-27 23:30 CET
PROGRAM = {"id": "main-street", "steps": [{"at": "sunset", "level": 100, "fade": 60},
                                          {"at": "23:00", "level": 40, "fade": 300},
                                          {"at": "sunrise", "level": 0, "fade": 120}]}
console = Console()


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host_tools", *args], check=True, **kw)


def _street_csv(path: Path, lamps: int) -> Path:
    rows = "".join(f"MS-{i:02d},{SITE},{DISTRICT},{STREET},{i},48.8566,{2.3522 + i * 0.0004:.4f}\n"
                   for i in range(1, lamps + 1))
    path.write_text("pole_id,site,district,street,position,lat,lon\n" + rows)
    return path


def _table(watch: Watch, rigs: dict[str, VBoardClient], title: str) -> Table:
    t = Table(title=title)
    for col in ("device", "status", "mode", "program", "level %", "driver output"):
        t.add_column(col)
    for dev, rig in rigs.items():
        state = _latest(watch, topics.root(SITE, dev) + "/state")
        status = _latest(watch, topics.root(SITE, dev) + "/status", raw=True)
        t.add_row(dev, status or "?", state.get("mode", "?"), str(state.get("program")), str(state.get("level")),
                  f"{rig.status()['lamp_level']:.0%}")
    return t


def _latest(watch: Watch, topic: str, raw: bool = False):
    while not watch.messages.empty():
        watch.seen.append(watch.messages.get())
    for t, payload, _ in reversed(watch.seen):
        if t == topic:
            return payload.decode() if raw else json.loads(payload)
    return None if raw else {}


@click.command()
@click.option("--lamps", default=4, show_default=True, type=click.IntRange(2, 20), help="Poles on the street.")
@click.option("--keep", is_flag=True, help="Leave everything running until Ctrl-C.")
def demo(lamps: int, keep: bool):
    """Run a street of virtual lamps end to end: inventory, broker, provisioning, fleet.

    Ctrl-C, SIGTERM and SIGHUP all stop the boards and the broker before it exits.
    """
    try:
        with stop_signals():
            _demo(lamps, keep)
    except Stopped as e:
        console.print(f"stopped by {e}; boards and broker are down")
        sys.exit(e.exit_code)


def _demo(lamps: int, keep: bool):
    with tempfile.TemporaryDirectory(prefix="pilotlight-demo-") as tmp, ExitStack() as stack:
        home, db = Path(tmp), Path(tmp) / "inventory.sqlite"
        os.environ["PILOTLIGHT_SECRETS"] = str(home / "secrets.json")   # the demo operator's, thrown away after
        with open_inventory(db, create=True) as inv:
            report = import_csv(inv, _street_csv(home / "poles.csv", lamps))
            places.ensure_site(inv, SITE, tz=TZ)
            fleet = credentials.ensure_fleet_account(inv, "demo-operator")
            fleet_password = credentials.password(inv, fleet.username)
            broker = local_broker(inv, home / "broker")
        console.print(f"[bold]inventory[/] {db.name}: {report.added} poles on {STREET} imported from the GIS CSV")
        broker.start()
        stack.callback(broker.stop)
        console.print(f"[bold]broker[/] Mosquitto on 127.0.0.1:{broker.port}, accounts and ACL from the inventory")

        sup = subprocess.Popen([sys.executable, "-m", "host_tools", "vboard", "run", "--name", "lamp", "--count",
                                str(lamps), "--home", str(home), "--json"], stdout=subprocess.PIPE, text=True)
        stack.callback(lambda: (sup.terminate(), sup.wait(30)))
        ready = json.loads(sup.stdout.readline())["ready"]
        rigs = {b["unique_id"]: VBoardClient(b["name"], home) for b in ready}
        for rig in rigs.values():
            stack.callback(rig.close)
            rig.set_clock(TONIGHT)  # the rig's world: tonight, 23:30 in Paris,
            rig.set_lux(2.0)        # and dark in the street
        console.print(f"[bold]vboards[/] {len(ready)} boards on ptys, e.g. {ready[0]['port']}")

        env = dict(os.environ, PILOTLIGHT_WIFI_KEY="demo-wifi-key")
        _run(["provision", "--vboards", "--home", str(home), "--db", str(db), "--board-type", "esp32-devkitc",
              "--street", STREET, "--broker-host", "127.0.0.1", "--broker-port", str(broker.port),
              # each board's account goes into the broker before its self-test logs in with it
              "--broker-dir", str(broker.files.directory), "--broker-reload", f"kill -HUP {broker.proc.pid}",
              "--wifi-ssid", "DEMO-STREET"], env=env)

        watch = Watch(broker.port, f"pl/{SITE}/#", username=fleet.username, password=fleet_password)
        stack.callback(watch.close)
        with console.status("waiting for every lamp to come online"):
            for dev in rigs:
                watch.wait(lambda t, p, r, d=dev: t == topics.root(SITE, d) + "/status" and p == b"online", timeout=60)
                watch.wait(lambda t, p, r, d=dev: t == topics.root(SITE, d) + "/state", timeout=30)
        console.print(_table(watch, rigs, "the street, online"))

        watch.publish(topics.group_command(SITE, STREET_GROUP, "program"), {"id": "demo-1", "program": PROGRAM})
        for dev in rigs:
            watch.wait_json(f"{dev}/ack", lambda d: d.get("id") == "demo-1", timeout=20)
            watch.wait_json(f"{dev}/state", lambda d: d.get("program") == PROGRAM["id"] and d.get("level") == 40,
                            timeout=20)
        console.print(_table(watch, rigs, f"program {PROGRAM['id']!r} sent to the street group: 40 % after 23:00"))

        first = next(iter(rigs.values()))
        first.pir(True)
        for dev in list(rigs)[:2]:  # the pole itself and its neighbour
            watch.wait_json(f"{dev}/state", lambda d: d.get("mode") == "presence", timeout=20)
        console.print(_table(watch, rigs, "motion at the first pole: it and its neighbours brighten"))
        first.pir(False)
        if keep:
            console.print("running; Ctrl-C (or SIGTERM) stops the boards and the broker", highlight=False)
            sup.wait()
