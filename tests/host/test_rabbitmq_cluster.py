"""The city's broker: a 2-node RabbitMQ cluster with the MQTT plugin, started by the
tools, with users and topic permissions generated from the inventory. Boards on
node 0, the fleet on node 1. (The fleet acceptance runs on it too: `make
test-cluster`, see hil_tests/fleet_bed.py.)"""
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hil_tests.fleet_bed import RabbitClusterBed
from host_tools.broker import credentials, rabbitmq
from host_tools.inventory import boards, open_inventory
from host_tools.inventory.gis_csv import import_csv

pytestmark = pytest.mark.skipif(not rabbitmq.available(), reason="rabbitmq-server is not installed (make setup)")

A, B = "240ac4000001", "240ac4000002"
WAIT = 10.0


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("city")
    (tmp / "p.csv").write_text("pole_id,site,district,street,position,lat,lon\n"
                               "P1,metz,Centre,Rue A,1,49.11,6.11\nP2,metz,Centre,Rue A,2,49.12,6.12\n")
    inv = open_inventory(tmp / "inv.sqlite", create=True)
    import_csv(inv, tmp / "p.csv")
    for chip, pole in ((A, "P1"), (B, "P2")):
        boards.register(inv, chip, "esp32-devkitc")
        boards.bind_pole(inv, chip, pole)
    credentials.ensure_board_accounts(inv)
    credentials.ensure_fleet_account(inv, "fleet")
    logins = {chip: (chip, credentials.issue_password(inv, chip)) for chip in (A, B)}   # as provisioned
    logins["fleet"] = ("fleet", credentials.password(inv, "fleet"))
    cluster = RabbitClusterBed.shared(tmp)              # once per session, shared with the fleet tests
    cluster.load(inv, prune=False)                      # beside other tests' accounts
    yield cluster, logins
    inv.close()


class Client:
    def __init__(self, port, login, client_id, will=None):
        self.inbox, self.lost, ready = [], threading.Event(), threading.Event()
        self.answer = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.c.username_pw_set(*login)
        if will:
            self.c.will_set(*will, qos=1, retain=True)
        self.c.on_connect = lambda c, u, f, reason, p: (setattr(self, "answer", str(reason)), ready.set())
        self.c.on_message = lambda c, u, m: self.inbox.append((m.topic, m.payload))
        self.c.on_disconnect = lambda *a: self.lost.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert ready.wait(WAIT), "no CONNACK"

    def sub(self, topic):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, 1)
        assert done.wait(WAIT)

    def pub(self, topic, payload):
        self.c.publish(topic, payload, qos=1)

    def wait_for(self, payload):
        got = threading.Event()
        for _ in range(int(WAIT * 20)):
            if any(p == payload for _, p in self.inbox):
                got.set()
                break
            self.lost.wait(0.05)
        return got.is_set()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_boards_on_one_node_reach_the_fleet_on_the_other_within_their_rights(city):
    cluster, logins = city
    boards_node, fleet_node = (n.mqtt_port for n in cluster.nodes)
    fleet = Client(fleet_node, logins["fleet"], "fleet-test")
    fleet.sub("pl/#")
    board = Client(boards_node, logins[A], A, will=(f"pl/metz/{A}/status", b"offline"))
    other = Client(boards_node, logins[B], B)
    try:
        board.sub(f"pl/metz/{A}/cmd/#")
        board.pub(f"pl/metz/{A}/state", b"own state")
        assert fleet.wait_for(b"own state")
        fleet.pub(f"pl/metz/{A}/cmd/ping", b"command")
        assert board.wait_for(b"command")                 # node 1 to node 0
        other.pub(f"pl/metz/{A}/state", b"forged")         # under another board's root: refused
        assert other.lost.wait(WAIT) and not fleet.wait_for(b"forged")
        board.c.socket().close()                          # a power cut: the Will crosses the cluster
        assert fleet.wait_for(b"offline")
    finally:
        for c in (fleet, board, other):
            c.close()


def test_a_boards_credentials_with_another_boards_client_id_are_refused(city):
    cluster, logins = city
    boards_node, fleet_node = (n.mqtt_port for n in cluster.nodes)
    victim = Client(boards_node, logins[B], B)
    try:
        for port in (boards_node, fleet_node):
            thief = Client(port, logins[A], B)            # A's password, B's client id
            assert thief.answer == "Bad user name or password"
            thief.close()
        assert not victim.lost.wait(1.0)                  # B was not knocked off
        assert Client(fleet_node, logins[A], A).answer == "Success"   # A under its own id is fine
    finally:
        victim.close()


def _ours(node_name: str) -> list[str]:
    """Processes started for this node (beam, epmd, helpers): they carry its name in their environment."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"RABBITMQ_NODENAME={node_name}".encode() in (proc / "environ").read_bytes():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:100])
        except OSError:
            continue
    return found


def test_sigterm_to_broker_cluster_leaves_no_process_behind(tmp_path):
    """`pilotlight broker cluster` (one node, to keep it quick) stopped as a service manager
    does: beam, its helpers, epmd and the auth service all go; the system RabbitMQ is never touched."""
    db = tmp_path / "inv.sqlite"
    (tmp_path / "p.csv").write_text("pole_id,site,district,street,position,lat,lon\nP1,metz,C,Rue A,1,49.1,6.1\n")
    with open_inventory(db, create=True) as inv:
        import_csv(inv, tmp_path / "p.csv")
        boards.register(inv, A, "esp32-devkitc")
        boards.bind_pole(inv, A, "P1")
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "broker", "--db", str(db), "cluster", "--nodes", "1",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        up = json.loads(proc.stdout.readline() or "{}")
        assert up, proc.stderr.read()[-2000:] if proc.poll() is not None else "no answer"
        node, epmd = up["nodes"][0]["name"], up["epmd_port"]
        with open_inventory(db) as inv:
            fleet = ("fleet", credentials.password(inv, "fleet"))
        assert Client(up["nodes"][0]["mqtt_port"], fleet, "fleet-t").answer == "Success"
        running = _ours(node)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:                 # a failed step: still stop it the clean way
            proc.send_signal(signal.SIGTERM)
            proc.wait(90)
    assert any("beam" in p for p in running) and any("epmd" in p for p in running), running
    assert _ours(node) == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", epmd)) != 0, "its epmd still listens"
    assert not Path(up["directory"]).exists()
