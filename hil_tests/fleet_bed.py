"""The fleet acceptance bed: an inventory of a district, a broker running its
accounts, simulated lamps and real vboards on it, and the fleet's accounts.

The broker is made by a factory from BROKERS, in this one place, so the same
tests run on another broker (e.g. a RabbitMQ cluster: add its factory here). A
factory takes (inventory, directory) and returns an object with `host`,
`port` (where boards connect), `fleet_host`, `fleet_port` (where fleet tools
connect: another node of a cluster), `stop()` and `start()` (the boards' broker
goes away and comes back), `close()` (at the end of the session), and
`reload(inventory)` (the accounts and ACL again from the inventory),
`retains_for_fleet` (whether fleet tools read the boards' retained messages) and
`provisioning(db)` (a context giving the `pilotlight provision` options that
load each board's account into it before the board's self-test)."""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hil_tests.support.broker_hook import BrokerHook
from host_tools.broker import credentials
from host_tools.broker.local import local_broker
from host_tools.broker.rabbitmq import RabbitCluster
from host_tools.fleet.sim.enrol import enrol
from host_tools.fleet.sim.layout import RATED_W, district_csv
from host_tools.fleet.sim.processes import SimFleet
from host_tools.inventory import open_inventory, places
from host_tools.inventory.gis_csv import import_csv

SITE = "metz"
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
NIGHT = 1795818600  # 2026-11-27 23:30 CET
VBOARD_STREET = "Rue des Cartes"   # in District 1, after the simulated lamps' streets
VBOARDS = 5


class MosquittoBed:
    """The fleet's generated Mosquitto, with persistence (retained messages
    survive its restart, as on a production broker)."""

    retains_for_fleet = True   # a collector that starts reads every board's retained status and state

    def __init__(self, inv, directory: Path):
        self.broker = local_broker(inv, directory)
        self.broker.extra.append("persistence true")
        self.host = self.fleet_host = "127.0.0.1"
        self.port = self.fleet_port = self.broker.port

    def start(self):
        self.broker.start()

    def stop(self):
        self.broker.stop()

    close = stop

    def reload(self, inv):
        self.broker.reload(inv)

    def provisioning(self, db: Path):
        """Its own files and a SIGHUP: nothing to serve while provisioning runs."""
        return contextlib.nullcontext(["--broker-dir", str(self.broker.files.directory),
                                       "--broker-reload", f"kill -HUP {self.broker.proc.pid}"])


class RabbitClusterBed:
    """The 2-node RabbitMQ cluster (it takes ~30 s to start): boards on node 0, the
    fleet tools on node 1. One cluster serves the whole test session, all xdist
    workers included: the first to need it starts it and leaves its address in
    /tmp/pilotlight-rabbit-<session>.json, the others attach; the session's own
    process stops it at the end (conftest.py). A restart is node 0's (the boards'
    broker goes away and comes back)."""

    _cluster: RabbitCluster | None = None
    retains_for_fleet = False   # retained messages stay on node 0 (docs/scale.md)

    def __init__(self, inv, directory: Path):
        cluster = self.shared(directory)
        self.host = self.fleet_host = "127.0.0.1"
        self.port, self.fleet_port = cluster.nodes[0].mqtt_port, cluster.nodes[1].mqtt_port

    @staticmethod
    def _state() -> Path:
        session = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
        return Path(tempfile.gettempdir()) / f"pilotlight-rabbit-{session}.json"

    @classmethod
    def shared(cls, directory: Path | None = None) -> RabbitCluster:
        if cls._cluster is None:
            state = cls._state()
            with open(state.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)          # one worker starts it, the others wait and attach
                if state.exists():
                    cls._cluster = RabbitCluster.attach(state)
                else:
                    cls._cluster = RabbitCluster().start()
                    cls._cluster.save(state)
            if not os.environ.get("PYTEST_XDIST_WORKER"):
                atexit.register(cls.stop_shared)
        return cls._cluster

    @classmethod
    def stop_shared(cls) -> None:
        """At the end of the session (not of a worker: the others may still use it)."""
        if os.environ.get("PYTEST_XDIST_WORKER"):
            return
        state = cls._state()
        if state.exists():
            RabbitCluster.attach(state).stop()
            state.unlink()
            state.with_suffix(".lock").unlink(missing_ok=True)
        cls._cluster = None

    def start(self):
        """The boards' node comes back (the fleet's node never went)."""
        node = self._cluster.nodes[0]
        node.ctl("start_app")
        node.wait_ready()

    def stop(self):
        """The boards' node goes away: a broker restart, as the boards see it."""
        self._cluster.nodes[0].ctl("stop_app")

    def close(self):
        pass                           # the cluster stays for the next module; stop_shared() at the end

    def reload(self, inv):
        self._cluster.load(inv, prune=False)       # beside other beds' accounts

    @contextlib.contextmanager
    def provisioning(self, db: Path):
        """The cluster runs in this process: provisioning asks it through a hook."""
        def load():
            with open_inventory(db) as inv:
                self.reload(inv)
        with BrokerHook(db.parent / "broker-hook", load) as hook:
            yield ["--broker-reload", hook.command]


BROKERS = {"mosquitto": MosquittoBed, "rabbitmq-cluster": RabbitClusterBed}


def broker_kinds() -> list[str]:
    """$PILOTLIGHT_FLEET_BROKERS (comma-separated) picks the brokers to run the fleet tests on;
    Mosquitto by default (`make test-cluster` adds the RabbitMQ cluster: its 2,000
    lamps take more CPU than the 8-minute `make test` on 2 cores leaves)."""
    return [k for k in os.environ.get("PILOTLIGHT_FLEET_BROKERS", "mosquitto").split(",") if k]


@dataclass
class FleetBed:
    home: Path
    db: Path
    broker: object
    sim: SimFleet
    configs: list[dict]
    operator: tuple[str, str]
    monitor: tuple[str, str]
    observer: tuple[str, str]
    vboards: list = field(default_factory=list)     # hil_tests.rig.virtual.RigBoard, provisioned
    rig: object = None

    @property
    def sim_devices(self) -> list[str]:
        return [c["device"]["id"] for c in self.configs]

    @property
    def vboard_devices(self) -> list[str]:
        return [vb.unique_id for vb in self.vboards]

    @property
    def devices(self) -> list[str]:
        return self.sim_devices + self.vboard_devices

    def stop(self) -> None:
        self.sim.stop()
        if self.rig is not None:
            self.rig.stop()
        self.broker.close()

    def inv(self):
        return open_inventory(self.db)


def make_bed(home: Path, kind: str, lamps: int, processes: int = 2, tele_s: float = 30.0,
             street_len: int = 50, vboards: int = 0) -> FleetBed:
    home.mkdir(parents=True, exist_ok=True)
    db = home / "inventory.sqlite"
    csv = district_csv(home / "poles.csv", SITE, lamps, districts=2, street_len=street_len)
    with csv.open("a") as f:   # the real boards' street, after the simulated lamps' poles
        f.writelines(f"VB-{i},{SITE},District 1,{VBOARD_STREET},{i},48.86,{2.30 + i * 0.0004:.6f},LED,{RATED_W:g}\n"
                     for i in range(1, vboards + 1))
    with open_inventory(db, create=True) as inv:
        import_csv(inv, csv)
        places.ensure_site(inv, SITE, tz=TZ)
        logins = {}
        for user, role in (("operator", "operator"), ("monitor", "monitor"), ("observer", "monitor")):
            a = credentials.ensure_fleet_account(inv, user, role)
            logins[user] = (a.username, credentials.password(inv, a.username))
        broker = BROKERS[kind](inv, home / "broker")
        configs = enrol(inv, SITE, broker.host, broker.port, count=lamps)
        broker.reload(inv)
    broker.start()
    sim = SimFleet(home / "sim", configs, processes=processes, tele_s=tele_s,
                   clock_offset=NIGHT - int(time.time()), backoff_max=5.0)
    sim.start()
    bed = FleetBed(home, db, broker, sim, configs, logins["operator"], logins["monitor"], logins["observer"])
    try:
        sim.wait_connected(timeout=120)
        if vboards:
            add_vboards(bed, vboards)
    except BaseException:
        bed.stop()
        raise
    return bed


def add_vboards(bed: FleetBed, count: int) -> None:
    """Real firmware on vboards, provisioned over their consoles onto the bed's broker, as in the field."""
    from hil_tests.rig.virtual import VirtualRig
    bed.rig = VirtualRig(bed.home / "vboards")
    bed.vboards = bed.rig.start("pole", count=count, timeout=120)
    for vb in bed.vboards:
        with vb.control() as c:
            c.set_clock(NIGHT)
    with bed.broker.provisioning(bed.db) as loading:
        run = subprocess.run([sys.executable, "-m", "host_tools", "provision", "--vboards", "--home", str(bed.rig.home),
                              "--db", str(bed.db), "--board-type", "esp32-devkitc", "--street", VBOARD_STREET,
                              "--broker-host", bed.broker.host, "--broker-port", str(bed.broker.port),
                              "--wifi-ssid", "METZ-LIGHTS", "--json", *loading],
                             capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, PILOTLIGHT_WIFI_KEY="bed-wifi-key", COLUMNS="200"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open_inventory(bed.db) as inv:
        bed.broker.reload(inv)
    from host_tools.fleet.watch import Watch
    watch = Watch(bed.broker.fleet_port, f"pl/{SITE}/+/state", host=bed.broker.fleet_host,
                  username=bed.observer[0], password=bed.observer[1])
    try:
        for vb in bed.vboards:
            with vb.control() as c:
                c.reset()   # straight online with the account it was just given
        for vb in bed.vboards:   # a live state from each, not a retained one from before the reset
            watch.wait(lambda t, p, r, d=vb.unique_id: t == f"pl/{SITE}/{d}/state" and not r, timeout=90,
                       what=f"a live state from vboard {vb.name}")
    finally:
        watch.close()


def wait_for(predicate, timeout: float = 30.0, every: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(every)


def pilotlight(bed: FleetBed, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    """`pilotlight fleet ...` / `pilotlight audit ...` as an operator runs it, on the bed's inventory."""
    group, rest = args[0], args[1:]
    return subprocess.run([sys.executable, "-m", "host_tools", group, "--db", str(bed.db), *rest],
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ, COLUMNS="200"))


def fleet_json(bed: FleetBed, *args, ok_codes=(0,), timeout: float = 120):
    run = pilotlight(bed, "fleet", *args, "--json", timeout=timeout)
    assert run.returncode in ok_codes, run.stdout[-1500:] + run.stderr[-1500:]
    return json.loads(run.stdout)


def broker_args(bed: FleetBed, account: str) -> list[str]:
    return ["--host", bed.broker.fleet_host, "--port", str(bed.broker.fleet_port), "--account", account]


def status(bed: FleetBed, *args) -> dict:
    return fleet_json(bed, "status", "--site", SITE, *args)


class Collecting:
    """`pilotlight fleet collect` for the session; a test may kill it, the next gets it back."""

    def __init__(self, bed: FleetBed):
        self.bed = bed
        self.proc = self._start()

    def _start(self) -> subprocess.Popen:
        queue = [] if self.bed.broker.retains_for_fleet else ["--queue"]   # what happens while it is away waits
        return subprocess.Popen([sys.executable, "-m", "host_tools", "fleet", "--db", str(self.bed.db), "collect",
                                 "--site", SITE, *broker_args(self.bed, self.bed.monitor[0]), *queue],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def ensure(self) -> "Collecting":
        if self.proc.poll() is not None:
            self.proc = self._start()
        return self

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


LAMPS = 2000


@pytest.fixture(scope="session", params=broker_kinds())
def bed(request, tmp_path_factory):
    """2,000 simulated lamps and 5 vboards on the broker kind of this run (one per session: slow to make)."""
    b = make_bed(tmp_path_factory.mktemp("fleet"), request.param, LAMPS, vboards=VBOARDS)
    yield b
    b.stop()


@pytest.fixture(scope="session")
def collecting(bed):
    c = Collecting(bed)
    try:
        if not bed.broker.retains_for_fleet:   # a cold start: the boards say where they are
            wait_for(lambda: status(bed)["summary"]["online"], 60, 0.5, "the collector hearing live uplinks")
            fleet_json(bed, "command", "--site", SITE, "--all", *broker_args(bed, "operator"), "ping",
                       json.dumps({"state": True}), "--timeout", "30")
        wait_for(lambda: status(bed)["summary"]["online"] == LAMPS + VBOARDS, 90, 1, "every lamp online in fleet status")
        yield c
    finally:
        c.stop()   # a failed start leaves no collector behind


@pytest.fixture
def running_collector(collecting):
    return collecting.ensure()


def program_hashes(bed: FleetBed, devices) -> dict[str, str | None]:
    """The program digest each board runs: the simulator's own word for its lamps,
    the board's reported state (fleet status) for the vboards."""
    lamps = bed.sim.lamps()
    reported = {b["device_id"]: b.get("program_hash") for b in status(bed)["boards"]}
    return {d: lamps[d]["program"] if d in lamps else reported.get(d) for d in devices}
