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
import time
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .boards import load_board_type
from .broker import credentials
from .broker.local import local_broker
from .fleet import status as fleet_status
from .fleet.collector import Collector
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


def _table(db: Path, rigs: dict[str, VBoardClient], title: str) -> Table:
    """The street as `pilotlight fleet status` shows it (the collector's view), pole
    by pole, beside what each lamp's driver is given at this moment."""
    t = Table(title=title)
    for col in ("pole", "device", "status", "mode", "program", "level %", "driver output"):
        t.add_column(col)
    for r in _street(db):
        t.add_row(r["pole"], r["device_id"], fleet_status.status_word(r), r.get("mode") or "?",
                  str(r.get("program")), "-" if r.get("level") is None else f"{r['level']:g}",
                  f"{rigs[r['device_id']].status()['lamp_level']:.0%}")
    return t


def _street(db: Path) -> list[dict]:
    with open_inventory(db) as inv:
        return fleet_status.rows(inv, SITE, street=STREET)


def _settled(db: Path, rigs: dict[str, VBoardClient], want=lambda r: True, timeout: float = 30.0) -> None:
    """Wait until every lamp's view is what its driver does (a fade over, its
    state heard) and `want` holds for every row: a table is never half-updated."""
    lamp_cfg = load_board_type("esp32-devkitc")["lamp"]
    duty_for = firmware_module("curve").duty_u16

    def agree(r):
        return (r["online"] and r.get("level") is not None and want(r)
                and abs(rigs[r["device_id"]].duty() - duty_for(r["level"], lamp_cfg)) <= 1)
    deadline = time.monotonic() + timeout
    while not all(agree(r) for r in _street(db)):
        if time.monotonic() > deadline:
            raise click.ClickException("the street's view did not settle within "
                                       f"{timeout:g} s: {[(r['pole'], r.get('mode'), r.get('level')) for r in _street(db)]}")
        time.sleep(0.2)


MONTH = ("2026-10-28", "2026-11-27")   # the pilot's month, up to tonight


def _past_month(db: Path) -> None:
    """The street's month before tonight, simulated through the collector's path (the
    boards' own uplinks from tonight on are real and come after it in the history)."""
    _run(["report", "simulate", "--site", SITE, "--inventory", str(db), "--street", STREET, "--from", MONTH[0],
          "--days", "30", "--no-incidents"])   # its incidents would replace a live board


def _reports(home: Path, db: Path, report_dir: Path) -> None:
    """The pilot's energy report over its month, and the case for a district of 400 poles."""
    first, last = MONTH
    where = ["--site", SITE, "--inventory", str(db)]
    report_dir.mkdir(parents=True, exist_ok=True)
    _run(["report", "energy", *where, "--street", STREET, "--from", first, "--to", last, "--tariff", "0.18",
          "--grid-factor", "0.06", "--csv", str(report_dir / "energy.csv"), "--plots", str(report_dir / "plots")])
    target = home / "nord.csv"
    target.write_text("pole_id,site,district,street,position,lat,lon\n" + "".join(
        f"N-{i:03d},{SITE},Nord,Rue {i // 40 + 1},{i % 40 + 1},48.87,{2.35 + i * 0.0003:.4f}\n" for i in range(400)))
    _run(["report", "scale-up", *where, "--pilot", STREET, "--target", str(target), "--from", first, "--to", last,
          "--tariff", "0.18", "--grid-factor", "0.06", "--controller-cost", "95", "--install-cost", "60",
          "--fixed-cost", "15000", "-o", str(report_dir / "scale-up.html")])
    console.print(f"[bold]reports[/] in {report_dir}: energy.csv, plots/, scale-up.html (open it in a browser)")


@click.command()
@click.option("--lamps", default=4, show_default=True, type=click.IntRange(2, 20), help="Poles on the street.")
@click.option("--keep", is_flag=True, help="Leave everything running until Ctrl-C.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-reports"),
              show_default=True, help="Where the pilot's energy report and scale-up case are written.")
def demo(lamps: int, keep: bool, report_dir: Path):
    """Run a street of virtual lamps end to end: inventory, broker, provisioning, fleet,
    then the reports a city decides on, from a simulated month of the same street.

    Ctrl-C, SIGTERM and SIGHUP all stop the boards and the broker before it exits.
    """
    try:
        with stop_signals():
            _demo(lamps, keep, report_dir.resolve())
    except Stopped as e:
        console.print(f"stopped by {e}; boards and broker are down")
        sys.exit(e.exit_code)


def _demo(lamps: int, keep: bool, report_dir: Path):
    with tempfile.TemporaryDirectory(prefix="pilotlight-demo-") as tmp, ExitStack() as stack:
        home, db = Path(tmp), Path(tmp) / "inventory.sqlite"
        os.environ["PILOTLIGHT_SECRETS"] = str(home / "secrets.json")   # the demo operator's, thrown away after
        with open_inventory(db, create=True) as inv:
            report = import_csv(inv, _street_csv(home / "poles.csv", lamps))
            places.ensure_site(inv, SITE, tz=TZ)
            fleet = credentials.ensure_fleet_account(inv, "demo-operator")
            fleet_password = credentials.password(inv, fleet.username)
            monitor = credentials.ensure_fleet_account(inv, "demo-monitor", "monitor")   # the collector's
            monitor_password = credentials.password(inv, monitor.username)
            broker = local_broker(inv, home / "broker")
        console.print(f"[bold]inventory[/] {db.name}: {report.added} poles on {STREET} imported from the GIS CSV")
        broker.start()
        stack.callback(broker.stop)
        console.print(f"[bold]broker[/] Mosquitto on 127.0.0.1:{broker.port}, accounts and ACL from the inventory")

        sup = subprocess.Popen([sys.executable, "-m", "host_tools", "vboard", "run", "--name", "lamp", "--count",
                                str(lamps), "--home", str(home), "--romfs", "--json"],
                               stdout=subprocess.PIPE, text=True)
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

        _past_month(db)
        watch = Watch(broker.port, f"pl/{SITE}/#", username=fleet.username, password=fleet_password)
        stack.callback(watch.close)
        collecting = Collector(db, SITE, "127.0.0.1", broker.port, monitor.username, monitor_password).start()
        stack.callback(collecting.stop)
        with console.status("waiting for every lamp to come online"):
            for dev in rigs:
                watch.wait(lambda t, p, r, d=dev: t == topics.root(SITE, d) + "/status" and p == b"online", timeout=60)
                watch.wait(lambda t, p, r, d=dev: t == topics.root(SITE, d) + "/state", timeout=30)
            _settled(db, rigs)
        console.print(_table(db, rigs, "the street, online"))

        watch.publish(topics.group_command(SITE, STREET_GROUP, "program"), {"id": "demo-1", "program": PROGRAM})
        for dev in rigs:
            watch.wait_json(f"{dev}/ack", lambda d: d.get("id") == "demo-1", timeout=20)
            watch.wait_json(f"{dev}/state", lambda d: d.get("program") == PROGRAM["id"] and d.get("level") == 40,
                            timeout=20)
        _settled(db, rigs, lambda r: r.get("program") == PROGRAM["id"])
        console.print(_table(db, rigs, f"program {PROGRAM['id']!r} sent to the street group: 40 % after 23:00"))

        first = rigs[_street(db)[0]["device_id"]]   # the pole at position 1
        first.pir(True)
        # it and its neighbours up to `neighbour_lamps` (3) along the street
        _settled(db, rigs, lambda r: r["position"] > 4 or r.get("mode") == "presence")
        console.print(_table(db, rigs, "motion at the first pole: it and its neighbours brighten"))
        first.pir(False)
        _reports(home, db, report_dir)
        if keep:
            console.print("running; Ctrl-C (or SIGTERM) stops the boards and the broker", highlight=False)
            sup.wait()
