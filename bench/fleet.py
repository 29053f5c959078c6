"""Issue 9 figures on 10,000 simulated lamps over the fleet's own Mosquitto:
a group command answered by every lamp, the collector's ingest rate and CPU
share, and `fleet status` over the whole site.

`district()` is the setup, for other benches on the same scale (the broker's
memory and CPU per 1,000 lamps)."""
from __future__ import annotations

import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.fleet.collector import Collector
from host_tools.fleet.commander import Commander
from host_tools.fleet.sim.district import raise_file_limit
from host_tools.fleet.sim.enrol import enrol
from host_tools.fleet.sim.layout import district_csv
from host_tools.fleet.sim.processes import SimFleet
from host_tools.fleet import targets
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv

LAMPS = 10_000
SITE = "bench"
RUNS = 3
BURST = 3          # tele messages per lamp in the ingest burst


@contextlib.contextmanager
def district(lamps: int = LAMPS, processes: int = 2, tele_s: float = 300.0):
    """An inventory of `lamps` poles, the fleet's Mosquitto with their accounts,
    and the simulated lamps connected: yields (db, broker, sim, logins)."""
    raise_file_limit()   # the broker inherits it: one socket per lamp
    with tempfile.TemporaryDirectory(prefix="pl-bench-fleet-") as tmp:
        home = Path(tmp)
        db = home / "inventory.sqlite"
        with open_inventory(db, create=True) as inv:
            import_csv(inv, district_csv(home / "poles.csv", SITE, lamps, districts=4))
            places.ensure_site(inv, SITE, tz="CET-1CEST,M3.5.0,M10.5.0/3")
            logins = {}
            for user, role in (("operator", "operator"), ("monitor", "monitor")):
                credentials.ensure_fleet_account(inv, user, role)
                logins[user] = (user, credentials.password(inv, user))
            broker = local_broker(inv, home / "broker")
            configs = enrol(inv, SITE, "127.0.0.1", broker.port)
            broker.reload(inv)
        broker.start()
        sim = SimFleet(home / "sim", configs, processes=processes, tele_s=tele_s)
        try:
            sim.start()
            sim.wait_connected(timeout=300)
            yield db, broker, sim, logins
        finally:
            sim.stop()
            broker.stop()


def _command_seconds(db: Path, port: int, login) -> list[float]:
    with open_inventory(db) as inv:
        target = targets.site(inv, SITE)   # one publish per district group
    out = []
    with Commander(SITE, "127.0.0.1", port, *login) as cmd:
        for i in range(RUNS):
            result = cmd.send("level", {"level": 20 + i, "duration_s": 600}, target, timeout=60, retries=0)
            if result.counts()["ok"] != len(target.devices):
                raise RuntimeError(f"only {result.summary()} of {len(target.devices)} lamps")
            out.append(result.seconds)
    return out


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _ingest(db: Path, port: int, sim: SimFleet, login) -> tuple[float, float]:
    """A burst of BURST tele messages from every lamp: messages per second the
    collector took in, and the share of one CPU it used meanwhile."""
    collector = Collector(db, SITE, "127.0.0.1", port, *login)
    running = collector.start()
    try:
        running.wait_ready(30)
        time.sleep(2)
        base = collector.received
        want = base + BURST * LAMPS
        cpu0, t0 = _cpu_seconds(), time.monotonic()
        for _ in range(BURST):
            sim.tele()
        while collector.received < want and time.monotonic() - t0 < 120:
            time.sleep(0.05)
        wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0
        return (collector.received - base) / wall, cpu / wall * 100
    finally:
        running.stop()


def _ingest_paho(db: Path, port: int, sim: SimFleet, login) -> tuple[float, float]:
    """The same burst through paho instead, into the same Collector.handle: the
    measurement that chose the collector's client."""
    collector = Collector(db, SITE, "127.0.0.1", port, *login)   # its views and handle() only
    subscribed = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=login[0], clean_session=True)
    client.username_pw_set(*login)
    client.on_message = lambda c, u, m: collector.handle(m.topic, m.payload, m.retain)
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(f"pl/{SITE}/+/+", 0)
    client.loop_start()
    try:
        subscribed.wait(30)
        time.sleep(2)
        base = collector.received
        cpu0, t0 = _cpu_seconds(), time.monotonic()
        for _ in range(BURST):
            sim.tele()
        while collector.received < base + BURST * LAMPS and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0
        return (collector.received - base) / wall, cpu / wall * 100
    finally:
        client.disconnect()
        client.loop_stop()


def _status_seconds(db: Path) -> list[float]:
    out = []
    for _ in range(RUNS):
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "host_tools", "fleet", "--db", str(db), "status", "--site", SITE,
                              "--json"], capture_output=True, text=True, timeout=120)
        if run.returncode:
            raise RuntimeError(run.stderr[-500:])
        out.append(time.monotonic() - t0)
    return out


def measure():
    with district() as (db, broker, sim, logins):
        seconds = _command_seconds(db, broker.port, logins["operator"])
        yield f"fleet command {LAMPS} lamps all acked", statistics.median(seconds), "s"
        rate, cpu = _ingest(db, broker.port, sim, logins["monitor"])
        yield "fleet collector ingest", rate, "msg/s"
        yield "fleet collector ingest cpu", cpu, "% of one core"
        rate, cpu = _ingest_paho(db, broker.port, sim, logins["monitor"])
        yield "fleet collector ingest with paho instead", rate, "msg/s"
        yield "fleet collector ingest with paho instead cpu", cpu, "% of one core"
        yield f"fleet status {LAMPS} lamps", statistics.median(_status_seconds(db)), "s"


if __name__ == "__main__":
    for name, value, unit in measure():
        print(f"{name}: {value:.4g} {unit}", flush=True)
