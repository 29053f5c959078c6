"""Issue 9: one Mosquitto for a district. 10,000 simulated lamps (the fleet's district
simulator, two processes) with their own accounts and the generated ACL, at the
firmware's default telemetry interval; the broker's memory and CPU per 1,000 lamps.
Then the city's broker: 5,000 lamps on node 0 of a 2-node RabbitMQ cluster, a fleet
monitor on node 1 (docs/scale.md builds on both).

Memory per 1,000 lamps is what the lamps add to a bare broker (accounts, ACL,
connections, retained status/state), so a city's figure is this times its lamps
plus one bare broker. CPU is the broker's share of one core over a quiet minute
after every lamp is connected (telemetry, keep-alives)."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.broker.mosquitto import Mosquitto
from host_tools.broker.rabbitmq import RabbitCluster, processes_with
from host_tools.broker.rabbitmq import available as rabbitmq_available
from host_tools.fleet.watch import Watch
from host_tools.fleet.sim.enrol import enrol
from host_tools.fleet.sim.layout import district_csv
from host_tools.fleet.sim.processes import SimFleet
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv

LAMPS = 10_000
SITE = "bench"
WINDOW_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime + stime


def bare_broker_mib(tmp: Path) -> float:
    with Mosquitto(tmp / "bare") as bare:
        time.sleep(0.5)
        return rss_mib(bare.proc.pid)


def measure():
    saved = os.environ.get("PILOTLIGHT_SECRETS")
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        os.environ["PILOTLIGHT_SECRETS"] = str(Path(tmp) / "secrets.json")   # the bench's accounts, thrown away
        try:
            yield from _measure(Path(tmp))
            if rabbitmq_available():
                yield from _measure_rabbit(Path(tmp))
        finally:
            os.environ.pop("PILOTLIGHT_SECRETS")
            if saved is not None:
                os.environ["PILOTLIGHT_SECRETS"] = saved


def _measure(tmp: Path):
    bare = bare_broker_mib(tmp)
    with open_inventory(tmp / "inv.sqlite", create=True) as inv:
        import_csv(inv, district_csv(tmp / "poles.csv", SITE, LAMPS, districts=4))
        places.ensure_site(inv, SITE, tz="CET-1CEST,M3.5.0,M10.5.0/3")
        broker = local_broker(inv, tmp / "broker")
        configs = enrol(inv, SITE, broker.host, broker.port)
        broker.reload(inv)                    # the lamps' accounts and ACL entries
    with broker:
        pid = broker.proc.pid
        time.sleep(1.0)
        accounts_only = rss_mib(pid)
        t0 = time.monotonic()
        with SimFleet(tmp / "sim", configs, processes=2) as sim:
            sim.wait_connected(timeout=600)
            connect_s = time.monotonic() - t0
            time.sleep(5.0)                   # retained status/state of every lamp are in
            cpu0, w0 = cpu_seconds(pid), time.monotonic()
            time.sleep(WINDOW_S)
            cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - w0) * 100
            connected = rss_mib(pid)
            still = sim.stats()["connected"]
    per_k = LAMPS / 1000
    yield "broker lamps connected", still, f"of {LAMPS}"
    yield "broker connect 10000 lamps", round(connect_s, 1), "s"
    yield "broker memory bare", round(bare, 1), "MiB"
    yield "broker memory 10000 accounts and ACL, no lamp connected", round(accounts_only, 1), "MiB"
    yield "broker memory 10000 lamps connected", round(connected, 1), "MiB"
    yield "broker memory per 1000 lamps", round((connected - bare) / per_k, 2), "MiB"
    yield "broker cpu per 1000 lamps at default telemetry", round(cpu / per_k, 3), "%"


RABBIT_LAMPS = 5_000


def beam_pid(node) -> int:
    for pid in processes_with(f"RABBITMQ_NODENAME={node.name}"):
        if Path(f"/proc/{pid}/comm").read_text().strip().startswith("beam"):
            return pid
    raise RuntimeError(f"no beam process for {node.name}")


def _measure_rabbit(tmp: Path):
    """The 2-node cluster: lamps on node 0, a fleet monitor subscribed to the site on node 1."""
    with open_inventory(tmp / "rinv.sqlite", create=True) as inv:
        import_csv(inv, district_csv(tmp / "rpoles.csv", SITE, RABBIT_LAMPS, districts=2))
        places.ensure_site(inv, SITE, tz="CET-1CEST,M3.5.0,M10.5.0/3")
        credentials.ensure_fleet_account(inv, "monitor", "monitor")
        monitor = credentials.password(inv, "monitor")
        t0 = time.monotonic()
        cluster = RabbitCluster().start()
        try:
            start_s = time.monotonic() - t0
            boards_node, fleet_node = cluster.nodes
            configs = enrol(inv, SITE, "127.0.0.1", boards_node.mqtt_port)
            cluster.load(inv)
            pids = [beam_pid(n) for n in cluster.nodes]
            idle = [rss_mib(p) for p in pids]
            watch = Watch(fleet_node.mqtt_port, f"pl/{SITE}/#", username="monitor", password=monitor)
            t0 = time.monotonic()
            with SimFleet(tmp / "rsim", configs, processes=2) as sim:
                sim.wait_connected(timeout=600)
                connect_s = time.monotonic() - t0
                time.sleep(5.0)
                cpu0, w0 = [cpu_seconds(p) for p in pids], time.monotonic()
                time.sleep(WINDOW_S)
                cpu = [(cpu_seconds(p) - c) / (time.monotonic() - w0) * 100 for p, c in zip(pids, cpu0)]
                loaded = [rss_mib(p) for p in pids]
            watch.close()
        finally:
            cluster.stop()
    per_k = RABBIT_LAMPS / 1000
    yield "rabbitmq cluster start 2 nodes", round(start_s, 1), "s"
    yield "rabbitmq connect 5000 lamps", round(connect_s, 1), "s"
    yield "rabbitmq node memory idle", round(idle[0], 1), "MiB"
    yield "rabbitmq boards node memory per 1000 lamps", round((loaded[0] - idle[0]) / per_k, 2), "MiB"
    yield "rabbitmq fleet node memory per 1000 lamps", round((loaded[1] - idle[1]) / per_k, 2), "MiB"
    yield "rabbitmq boards node cpu per 1000 lamps at default telemetry", round(cpu[0] / per_k, 3), "%"
    yield "rabbitmq fleet node cpu per 1000 lamps at default telemetry", round(cpu[1] / per_k, 3), "%"
