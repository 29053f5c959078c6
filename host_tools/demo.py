"""`pilotlight demo`: the main job on the embedded default, end to end on this
machine. A street's poles go into the inventory (SQLite), a local Mosquitto
runs the fleet's accounts and ACL, virtual boards are provisioned over their
serial consoles, and the street is then run from the fleet side over MQTT:
its pilot month on its own boards in compressed time (reports/pilot_month.py),
tonight live, then the reports a city decides on."""
from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .boards import load_board_type
from .broker import credentials
from .broker.local import local_broker
from .fleet import status as fleet_status
from .fleet.collector import Collector
from .fleet.watch import Watch
from .reports import baseline
from .reports.pilot_month import PILOT_TELE_S, Incidents, Street, WorldClock, plan
from .inventory import open_inventory, places
from .inventory.gis_csv import import_csv
from .signals import Stopped, stop_signals
from .paths import firmware_module
from .vboard.control import VBoardClient

topics = firmware_module("topics")
program_mod = firmware_module("program")
tz_mod = firmware_module("tz")
DAYS = 7                       # the pilot's nights by default: a week (30 nights took 7 minutes)
MOTIONS_PER_NIGHT = 4.0        # passers-by a lamp sees in a night (each lights its neighbours too)

SITE, DISTRICT, STREET, TZ = "demo", "Centre", "Main Street", "CET-1CEST,M3.5.0,M10.5.0/3"
STREET_GROUP = "centre.main-street"
TONIGHT = 1795818600  # 2026-11-27 23:30 CET
TODAY_NOON = TONIGHT - 11 * 3600 - 1800
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


def _month(days: int) -> tuple[str, str]:
    """The pilot's nights, as the reports' --from and --to: `days` of them up to tonight."""
    return (time.strftime("%Y-%m-%d", time.gmtime(TODAY_NOON - days * 86400)),
            time.strftime("%Y-%m-%d", time.gmtime(TODAY_NOON)))


def _pilot_month(db: Path, rigs: dict[str, VBoardClient], world: WorldClock, collector: Collector,
                 days: int) -> dict[str, float]:
    """The street's nights up to tonight 23:30 on its boards, in compressed time, with
    passers-by and an incident of each kind. Returns what each lamp really drew over
    the reports' nights (the rig's power meter, from noon to noon as the report counts)."""
    with open_inventory(db) as inv:
        where = {r["device_id"]: (r["lat"], r["lon"]) for r in inv.query(
            "SELECT b.device_id, p.lat, p.lon FROM boards b JOIN poles p ON p.id = b.pole_id")}
    evaluators = [program_mod.Evaluator(program_mod.Program(PROGRAM), tz_mod.TZ(TZ), *where[d]) for d in rigs]
    moments = plan(evaluators, world.start, days, MOTIONS_PER_NIGHT, Incidents.typical(len(rigs), days),
                   random.Random(1))
    lon = where[next(iter(rigs))][1]
    first, last = (baseline.noon(TODAY_NOON // 86400 - k, lon) for k in (days, 0))
    street, real0 = Street(rigs, world, collector), time.monotonic()
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"{days} nights in compressed time", total=TONIGHT - world.start)
            progress = lambda at: bar.update(task, completed=at - world.start)   # noqa: E731
            street.run([m for m in moments if m.at < first], first, progress)
            drawn = street.run([m for m in moments if first <= m.at < last], last, progress)
            street.run([m for m in moments if m.at >= last], TONIGHT, progress)
    finally:
        street.close()
    console.print(f"[bold]pilot month[/] {days} nights on the street's boards in {time.monotonic() - real0:.0f} s "
                  f"(compressed time: {street.jumps:,} jumps, {len(moments):,} moments landed on)")
    return drawn


def _drawn_csv(db: Path, drawn: dict[str, float], path: Path) -> None:
    """What each lamp really drew over the reports' nights: a street has no such meter,
    the rig has; beside energy.csv it shows how well the boards metered."""
    with open_inventory(db) as inv:
        poles = {r["device_id"]: r["pole_id"] for r in inv.query("SELECT device_id, pole_id FROM boards")}
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["pole_id", "device_id", "drawn_kwh"])
        for device, wh in drawn.items():
            out.writerow([poles[device], device, f"{wh / 1000:.4f}"])


def _reports(home: Path, db: Path, report_dir: Path, days: int) -> None:
    """The pilot's energy report over its month, and the case for a district of 400 poles."""
    first, last = _month(days)
    where = ["--site", SITE, "--inventory", str(db)]
    report_dir.mkdir(parents=True, exist_ok=True)
    _run(["report", "energy", *where, "--street", STREET, "--from", first, "--to", last, "--tariff", "0.18",
          "--grid-factor", "0.06", "--csv", str(report_dir / "energy.csv"), "--plots", str(report_dir / "plots")])
    with (report_dir / "operations.json").open("w") as out:
        _run(["report", "operations", *where, "--street", STREET, "--from", first, "--to", last, "--json"], stdout=out)
    target = home / "nord.csv"
    target.write_text("pole_id,site,district,street,position,lat,lon\n" + "".join(
        f"N-{i:03d},{SITE},Nord,Rue {i // 40 + 1},{i % 40 + 1},48.87,{2.35 + i * 0.0003:.4f}\n" for i in range(400)))
    _run(["report", "scale-up", *where, "--pilot", STREET, "--target", str(target), "--from", first, "--to", last,
          "--tariff", "0.18", "--grid-factor", "0.06", "--controller-cost", "95", "--install-cost", "60",
          "--fixed-cost", "15000", "-o", str(report_dir / "scale-up.html")])
    console.print(f"[bold]reports[/] in {report_dir}: energy.csv, operations.json, plots/, scale-up.html "
                  "(open it in a browser), drawn.csv (what the lamps really drew: the rig's meter)")


@click.command()
@click.option("--lamps", default=4, show_default=True, type=click.IntRange(2, 20), help="Poles on the street.")
@click.option("--days", default=DAYS, show_default=True, type=click.IntRange(1, 60),
              help="Nights of the pilot the street's boards run in compressed time before tonight "
                   "(--days 30 for a month: 7 minutes for 4 lamps on 2 cores).")
@click.option("--keep", is_flag=True, help="Leave everything running until Ctrl-C.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-reports"),
              show_default=True, help="Where the pilot's energy report and scale-up case are written.")
def demo(lamps: int, days: int, keep: bool, report_dir: Path):
    """Run a street of virtual lamps end to end: inventory, broker, provisioning, fleet,
    the street's pilot month on its own boards in compressed time, tonight live,
    then the reports a city decides on.

    Ctrl-C, SIGTERM and SIGHUP all stop the boards and the broker before it exits.
    """
    try:
        with stop_signals():
            _demo(lamps, days, keep, report_dir.resolve())
    except Stopped as e:
        console.print(f"stopped by {e}; boards and broker are down")
        sys.exit(e.exit_code)


def _demo(lamps: int, days: int, keep: bool, report_dir: Path):
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
            rig.set_lux(2.0)        # the light sensor only counts while a board has no time
        console.print(f"[bold]vboards[/] {len(ready)} boards on ptys, e.g. {ready[0]['port']}")

        env = dict(os.environ, PILOTLIGHT_WIFI_KEY="demo-wifi-key")
        _run(["provision", "--vboards", "--home", str(home), "--db", str(db), "--board-type", "esp32-devkitc",
              "--street", STREET, "--broker-host", "127.0.0.1", "--broker-port", str(broker.port),
              # each board's account goes into the broker before its self-test logs in with it
              "--broker-dir", str(broker.files.directory), "--broker-reload", f"kill -HUP {broker.proc.pid}",
              "--wifi-ssid", "DEMO-STREET"], env=env)

        # The pilot's world: noon in Paris on its first day. Provisioning set each board's
        # clock from this laptop's; the boards start again at the world's time, and the
        # collector hears them from then on.
        start = TODAY_NOON - days * 86400
        rigs = {r["device_id"]: rigs[r["device_id"]] for r in _street(db)}   # in street order
        for rig in rigs.values():
            rig.set_clock(start)
            rig.reset()
        world = WorldClock(start)
        watch = Watch(broker.port, f"pl/{SITE}/#", username=fleet.username, password=fleet_password)
        stack.callback(watch.close)
        with console.status("waiting for every lamp to come online"):
            for dev in rigs:
                watch.wait_json(f"{dev}/state", lambda d: d.get("ts", 0) < start + 3600, timeout=60)
            collecting = Collector(db, SITE, "127.0.0.1", broker.port, monitor.username, monitor_password,
                                   clock=world.now).start()
            stack.callback(collecting.stop)
            for dev in rigs:
                watch.wait(lambda t, p, r, d=dev: t == topics.root(SITE, d) + "/status" and p == b"online", timeout=60)
            _settled(db, rigs)
        console.print(_table(db, rigs, "the street, online"))

        # the pilot's readings every 15 minutes, then its program, to the street group
        watch.publish(topics.group_command(SITE, STREET_GROUP, "config"),
                      {"id": "demo-0", "set": {"tele_interval_s": PILOT_TELE_S}})
        watch.publish(topics.group_command(SITE, STREET_GROUP, "program"), {"id": "demo-1", "program": PROGRAM})
        for dev in rigs:
            for cmd in ("demo-0", "demo-1"):
                ack = watch.wait_json(f"{dev}/ack", lambda d, c=cmd: d.get("id") == c, timeout=20)
                if not ack.get("ok"):
                    raise click.ClickException(f"{dev} refused {cmd}: {ack.get('error')}")
            watch.wait_json(f"{dev}/state", lambda d: d.get("program") == PROGRAM["id"], timeout=20)
        _settled(db, rigs, lambda r: r.get("program") == PROGRAM["id"])
        console.print(_table(db, rigs, f"program {PROGRAM['id']!r} sent to the street group: off by day"))

        drawn = _pilot_month(db, rigs, world, collecting.collector, days)
        _settled(db, rigs, lambda r: r.get("level") == 40 and r.get("mode") == "schedule")
        console.print(_table(db, rigs, f"{days} nights later: tonight, 23:30, 40 % after 23:00"))

        first = rigs[_street(db)[0]["device_id"]]   # the pole at position 1
        first.pir(True)
        # it and its neighbours up to `neighbour_lamps` (3) along the street
        _settled(db, rigs, lambda r: r["position"] > 4 or r.get("mode") == "presence")
        console.print(_table(db, rigs, "motion at the first pole: it and its neighbours brighten"))
        first.pir(False)
        _reports(home, db, report_dir, days)
        _drawn_csv(db, drawn, report_dir / "drawn.csv")
        if keep:
            console.print("running; Ctrl-C (or SIGTERM) stops the boards and the broker", highlight=False)
            sup.wait()
