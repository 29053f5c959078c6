"""The generated ACL against a real Mosquitto: a board's credentials cannot publish
as another board, cannot send any command, cannot read others' commands."""
import getpass
import json
import os
import queue
import signal
import ssl
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from host_tools.broker import credentials
from host_tools.broker.check import Login, identities_from_inventory, run_check
from host_tools.broker.local import local_broker
from host_tools.broker.mosquitto import Mosquitto, free_port
from host_tools.cli import cli
from host_tools.inventory import boards, groups, open_inventory
from host_tools.inventory.gis_csv import import_csv
from host_tools.paths import REPO

POLES = """pole_id,site,district,street,position,lat,lon
P1,metz,Centre,Rue A,1,49.11,6.11
P2,metz,Centre,Rue A,2,49.12,6.12
P3,metz,Nord,Rue B,1,49.13,6.13
N1,nancy,Centre,Rue C,1,48.69,6.18
"""
A, B, C, D = "240ac4000001", "240ac4000002", "240ac4000003", "240ac4000004"
WAIT = 3.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("acl")
    (tmp / "p.csv").write_text(POLES)
    inv = open_inventory(tmp / "inv.sqlite", create=True)
    import_csv(inv, tmp / "p.csv")
    for chip, pole in ((A, "P1"), (B, "P2"), (C, "P3"), (D, "N1")):
        boards.register(inv, chip, "esp32-devkitc")
        boards.bind_pole(inv, chip, pole)
    groups.create(inv, "metz", "festival")
    groups.add_board(inv, "metz", "festival", C)
    credentials.ensure_board_accounts(inv)
    logins = {chip: Login(chip, credentials.issue_password(inv, chip)) for chip in (A, B, C, D)}  # as provisioned
    broker = local_broker(inv, tmp / "broker", tls=True).start()
    logins["fleet"] = Login("fleet", credentials.password(inv, "fleet"))
    yield inv, broker, logins
    broker.stop()
    inv.close()


class Client:
    def __init__(self, port, account=None, tls=None, client_id=None):
        self.inbox: queue.Queue = queue.Queue()
        ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or uuid.uuid4().hex[:10])
        if account:
            self.c.username_pw_set(account.username, account.password)
        if tls:
            self.c.tls_set(**tls)
        self.c.on_connect = lambda *a: ready.set()
        self.c.on_message = lambda c, u, m: self.inbox.put((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert ready.wait(WAIT)

    def sub(self, topic):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, 1)
        assert done.wait(WAIT)

    def pub(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def payloads_until(self, marker):
        got = []
        while True:
            topic, payload = self.inbox.get(timeout=WAIT)   # the marker must come
            got.append(payload)
            if payload == marker:
                return got

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_the_check_passes_on_the_generated_config(fleet):
    inv, broker, _ = fleet
    a, b, operator = identities_from_inventory(inv)
    probes = run_check("127.0.0.1", broker.port, a, b, operator, timeout=WAIT)
    assert [p.name for p in probes if not p.passed] == []
    assert sum(p.expect == "denied" for p in probes) >= 9 and sum(p.expect == "allowed" for p in probes) >= 3
    result = CliRunner().invoke(cli, ["broker", "--db", str(inv.path), "check", "--port", str(broker.port)])
    assert result.exit_code == 0 and "probes passed" in result.stdout


def test_a_board_cannot_publish_under_another_root_or_on_any_command_topic(fleet):
    inv, broker, acc = fleet
    spy, board = Client(broker.port, acc["fleet"]), Client(broker.port, acc[A])
    try:
        spy.sub("pl/#")
        forbidden = [f"pl/metz/{B}/state", f"pl/metz/{B}/status", f"pl/metz/{C}/tele", f"pl/nancy/{D}/event",
                     f"pl/metz/{A}/cmd", f"pl/metz/{A}/cmd/level", f"pl/metz/{B}/cmd/reboot",
                     "pl/metz/group/centre/cmd/level", "pl/metz/group/centre.rue-a/cmd/ota",
                     "pl/metz/group/nord/presence", f"pl/metz/{A}/state/deeper"]
        for topic in forbidden:
            board.pub(topic, b"forbidden " + topic.encode())
        board.pub(f"pl/metz/{A}/state", b"marker")        # same connection, after all of them
        assert spy.payloads_until(b"marker") == [b"marker"]
    finally:
        spy.close()
        board.close()


def test_a_board_reads_its_own_and_its_groups_commands_only(fleet):
    inv, broker, acc = fleet
    operator, board = Client(broker.port, acc["fleet"]), Client(broker.port, acc[A])
    try:
        for topic in ("#", f"pl/metz/{B}/cmd/#", "pl/metz/group/nord/cmd/#", "pl/metz/group/festival/cmd/#"):
            board.sub(topic)                    # asking is allowed; the broker must still filter
        for topic in (f"pl/metz/{B}/cmd/level", f"pl/nancy/{D}/cmd/level", "pl/metz/group/nord/cmd/level",
                      "pl/metz/group/festival/cmd/level", f"pl/metz/{B}/state"):
            operator.pub(topic, b"not for A")
        operator.pub("pl/metz/group/centre.rue-a/cmd/level", b"street")
        operator.pub(f"pl/metz/{A}/cmd/ping", b"own")
        got = board.payloads_until(b"own")
        assert b"not for A" not in got and b"street" in got
    finally:
        operator.close()
        board.close()


def test_a_board_cannot_take_over_another_boards_client_id(fleet):
    inv, broker, acc = fleet
    victim = Client(broker.port, acc[B], client_id=B)
    lost = threading.Event()
    victim.c.on_disconnect = lambda *a: lost.set()
    thief = Client(broker.port, acc[C], client_id=B)
    try:
        assert not lost.wait(1.0)
    finally:
        thief.close()
        victim.close()


def test_a_board_on_tls_is_known_by_its_certificate_and_kept_to_its_root(fleet):
    inv, broker, acc = fleet
    tls_dir = broker.files.tls
    tls = {"ca_certs": str(tls_dir / "ca.pem"), "certfile": str(tls_dir / f"{A}.pem"),
           "keyfile": str(tls_dir / f"{A}.key")}
    spy = Client(broker.port, acc["fleet"])
    board = Client(broker.tls_port, tls=tls)          # no password: the certificate is the identity
    try:
        spy.sub("pl/#")
        board.pub(f"pl/metz/{B}/state", b"forbidden")
        board.pub(f"pl/metz/{A}/cmd/level", b"forbidden")
        board.pub(f"pl/metz/{A}/state", b"marker")
        assert spy.payloads_until(b"marker") == [b"marker"]
    finally:
        spy.close()
        board.close()


def test_the_check_catches_a_permissive_broker(fleet, tmp_path):
    inv, broker, acc = fleet
    (tmp_path / "acl").write_text("pattern readwrite pl/#\n")
    (tmp_path / "passwd").write_text(broker.files.passwd.read_text())
    run_as = [f"user {getpass.getuser()}"] if os.geteuid() == 0 else []
    lax = Mosquitto(tmp_path / "lax", anonymous=False, extra=[
        *run_as, f"password_file {tmp_path / 'passwd'}", f"acl_file {tmp_path / 'acl'}"])
    a, b, operator = identities_from_inventory(inv)
    with lax:
        probes = {p.name: p.passed for p in run_check("127.0.0.1", lax.port, a, b, operator, timeout=WAIT)}
    assert probes["board publishes its own state"]
    assert not probes["board publishes under another board's root"]
    assert not probes["board sends a command to another board"]
    assert not probes["board reads another board's commands"]
    assert not probes["board takes over another board's client id"]


def test_a_retired_boards_certificate_is_revoked(tmp_path):
    (tmp_path / "p.csv").write_text(POLES)
    with open_inventory(tmp_path / "inv.sqlite", create=True) as inv:
        import_csv(inv, tmp_path / "p.csv")
        for chip, pole in ((A, "P1"), (B, "P2")):
            boards.register(inv, chip, "esp32-devkitc")
            boards.bind_pole(inv, chip, pole)
        tls_dir = local_broker(inv, tmp_path / "broker", tls=True).files.tls
        kept = {n: (tls_dir / f"{B}.{n}").read_bytes() for n in ("pem", "key")}   # what B's flash still holds
        boards.set_state(inv, B, "retired")
        broker = local_broker(inv, tmp_path / "broker", tls=True)
    for n, data in kept.items():
        (tmp_path / f"b.{n}").write_bytes(data)

    def tls_for(cert, key):
        return {"ca_certs": str(tls_dir / "ca.pem"), "certfile": str(cert), "keyfile": str(key)}
    with broker:
        Client(broker.tls_port, tls=tls_for(tls_dir / f"{A}.pem", tls_dir / f"{A}.key")).close()
        with pytest.raises((ssl.SSLError, ConnectionError, AssertionError)):
            Client(broker.tls_port, tls=tls_for(tmp_path / "b.pem", tmp_path / "b.key")).close()


# As from a technician's terminal: Ctrl-C reaches the tool even where this test
# runs with SIGINT ignored (a shell's background job), which its children inherit.
_WITH_CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); " \
               "from host_tools.cli import main; main()"


def _broker_up(inv, port: int, directory: Path) -> tuple[subprocess.Popen, list[str]]:
    """`pilotlight broker up`, listening; what it says (Mosquitto's log too) is read on a thread."""
    proc = subprocess.Popen([sys.executable, "-c", _WITH_CTRL_C, "broker", "--db", str(inv.path), "up", "--port",
                             str(port), "--dir", str(directory)], cwd=REPO, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    said, listening = [], threading.Event()

    def read():
        for line in proc.stderr:
            said.append(line)
            if "listening" in line:
                listening.set()
        listening.set()
    threading.Thread(target=read, daemon=True).start()
    listening.wait(30)
    assert proc.poll() is None and any("listening" in line for line in said), "".join(said)
    return proc, said


def test_broker_up_serves_the_fleet_until_ctrl_c(fleet, tmp_path):
    inv, _, _ = fleet
    port = free_port()
    proc, said = _broker_up(inv, port, tmp_path / "b")
    try:
        check = CliRunner().invoke(cli, ["broker", "--db", str(inv.path), "check", "--port", str(port), "--json"])
        assert check.exit_code == 0 and json.loads(check.stdout)["passed"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0, "".join(said[-20:])
    finally:
        if proc.poll() is None:        # a failed step: SIGTERM still stops its Mosquitto (SIGKILL would orphan it)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert stat.S_IMODE((tmp_path / "b" / "passwd").stat().st_mode) == 0o600


def test_sigterm_to_broker_up_stops_its_mosquitto(fleet, tmp_path):
    inv, _, _ = fleet
    port = free_port()
    proc, _ = _broker_up(inv, port, tmp_path / "b")
    try:
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert children, "mosquitto should be running under `broker up`"
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not [c for c in children if _running(c)], "mosquitto left running"


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
