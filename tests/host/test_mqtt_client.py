"""lampctl.mqtt under the real MicroPython interpreter against a real Mosquitto,
observed from the fleet side with paho-mqtt. The board side is
tests/host/mqtt_scripts/lamp_client.py, which prints one JSON line per event."""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host_tools.broker.mosquitto import Mosquitto
from host_tools.vboard.board import micropython_binary

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "mqtt_scripts" / "lamp_client.py"
ROOT = "pl/test/lamp1"


class Board:
    """The MicroPython client process; its JSON lines land on a queue."""

    def __init__(self, heap="96k", **opt):
        env = dict(os.environ, MICROPYPATH=f"{REPO / 'firmware'}:.frozen", LAMP_CLIENT=json.dumps(opt))
        self.proc = subprocess.Popen([micropython_binary(), "-X", f"heapsize={heap}", str(DRIVER)],
                                     env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"ev": "output", "line": line.rstrip()})

    def wait(self, ev, timeout=10.0, **match):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(e)
            if e["ev"] == ev and all(e.get(k) == v for k, v in match.items()):
                return e
        raise AssertionError(f"no {ev} {match} within {timeout}s; board said: {self.seen[-15:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


class Fleet:
    """A paho subscriber, as the fleet side sees the lamp."""

    def __init__(self, port, topics, client_id="fleet", clean=True, tls_ca=None):
        self.messages: queue.Queue = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload.decode(), m.retain))
        self.c.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, 1) for t in topics]
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()

    def expect(self, topic, payload=None, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                t, p, retained = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if t == topic and (payload is None or p == payload):
                return p, retained
        raise AssertionError(f"no {payload!r} on {topic} within {timeout}s")

    def publish(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def boards():
    started = []
    yield lambda **opt: started.append(Board(**opt)) or started[-1]
    for b in started:
        b.stop()


def test_connect_publishes_retained_online_and_broker_publishes_offline_when_killed(broker, boards):
    board = boards(port=broker.port)
    board.wait("connected")
    fleet = Fleet(broker.port, [ROOT + "/status"])
    try:
        _, retained = fleet.expect(ROOT + "/status", "online")
        assert retained  # a subscriber arriving later still learns the lamp is online
        board.proc.kill()  # power cut: no DISCONNECT, the broker publishes the Last Will
        fleet.expect(ROOT + "/status", "offline", timeout=10)
    finally:
        fleet.close()


def test_qos1_publishes_reach_the_subscriber_in_order(broker, boards):
    fleet = Fleet(broker.port, [ROOT + "/tele"])
    try:
        board = boards(port=broker.port, count=50, every_ms=0, window=8)
        board.wait("published_all")
        got = [json.loads(fleet.expect(ROOT + "/tele")[0])["seq"] for _ in range(50)]
        assert got == list(range(1, 51))
    finally:
        fleet.close()


def test_command_sent_while_offline_is_delivered_after_reconnect(broker, boards):
    opts = dict(port=broker.port, sub=[ROOT + "/cmd/#"], client_id="lamp-persistent")
    first = boards(run_ms=1000, **opts)
    first.wait("connected", session=False)
    first.wait("exit")  # clean DISCONNECT: the session stays on the broker
    fleet = Fleet(broker.port, [])
    try:
        fleet.publish(ROOT + "/cmd/level", '{"id":"c1","level":30}')
    finally:
        fleet.close()
    second = boards(**opts)
    got = second.wait("msg", topic=ROOT + "/cmd/level")   # the broker may deliver it before on_connect runs
    if not any(e["ev"] == "connected" and e.get("session") for e in second.seen):
        second.wait("connected", session=True)
    assert json.loads(got["payload"]) == {"id": "c1", "level": 30}


def test_broker_restart_loses_no_qos1_message_and_client_reconnects_within_backoff(tmp_path, boards):
    # The broker persists its sessions on shutdown, so the fleet subscriber's
    # session survives the restart: any gap in seq would be the client's loss.
    conf = tmp_path / "broker"
    extra = ["persistence true"]
    broker = Mosquitto(conf, extra=extra).start()
    fleet = None
    try:
        fleet = Fleet(broker.port, [ROOT + "/tele"], client_id="fleet-durable", clean=False)
        backoff_max_ms = 1000
        board = boards(port=broker.port, count=150, every_ms=20, window=8, backoff_max_ms=backoff_max_ms)
        board.wait("acked", seq=30)
        broker.stop()
        time.sleep(1.5)  # the client keeps publishing into its queue meanwhile
        broker = Mosquitto(conf, port=broker.port, extra=extra).start()
        restarted = time.monotonic()
        board.wait("connected", reconnects=1)
        reconnect_s = time.monotonic() - restarted
        assert reconnect_s < backoff_max_ms / 1000 + 1.0, f"reconnected after {reconnect_s:.2f}s"
        board.wait("published_all", timeout=20)
        seqs = set()
        try:
            while len(seqs) < 150:
                seqs.add(json.loads(fleet.expect(ROOT + "/tele", timeout=10)[0])["seq"])
        except AssertionError:
            pass
        assert sorted(set(range(1, 151)) - seqs) == []
    finally:
        if fleet:
            fleet.close()
        broker.stop()


def test_oversize_message_is_skipped_and_the_next_one_arrives(broker, boards):
    board = boards(port=broker.port, sub=[ROOT + "/cmd/#"], max_msg=256)
    board.wait("connected")
    time.sleep(0.3)  # let the SUBSCRIBE land
    fleet = Fleet(broker.port, [])
    try:
        fleet.publish(ROOT + "/cmd/config", "x" * 5000)
        fleet.publish(ROOT + "/cmd/ping", '{"id":"p1"}')
    finally:
        fleet.close()
    skipped = board.wait("oversize")
    assert skipped["topic"] == ROOT + "/cmd/config" and skipped["size"] > 5000
    assert board.wait("msg")["payload"] == '{"id":"p1"}'
    assert board.proc.poll() is None


def test_a_burst_of_1000_commands_is_validated_in_a_96k_heap(broker, boards):
    board = boards(port=broker.port, sub=[ROOT + "/cmd/#"], validate=True)  # heap: 96k, as on the board
    board.wait("connected")
    time.sleep(0.3)  # let the SUBSCRIBE land
    fleet = Fleet(broker.port, [])
    try:
        for i in range(1000):
            if i % 4 == 0:
                name, payload = "level", '{"id": "c%d", "level": 150}' % i  # out of range
            elif i % 4 == 3:
                name, payload = "level", '{"id": "c%d", "level": 40}' % (i - 1)  # the ping's id again
            else:
                name, payload = "ping", '{"id": "c%d"}' % i
            fleet.c.publish(f"{ROOT}/cmd/{name}", payload, qos=1)
        last = board.wait("tally", timeout=30, ok=500, bad=250, dup=250)
    finally:
        fleet.close()
    assert last["free"] > 40 * 1024, last  # the heap was not eaten by the burst
    assert board.proc.poll() is None


class BlackholeProxy:
    """A TCP relay between board and broker that can silently stop relaying
    (packets lost, no FIN, no RST): the half-open link a street cabinet's
    modem leaves behind. Connections made during an outage never come back."""

    def __init__(self, target_port):
        self.target = target_port
        self.blackhole = False
        self.conns: list[dict] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            conn = {"dead": self.blackhole, "socks": (client, upstream)}
            self.conns.append(conn)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(conn, a, b), daemon=True).start()

    def _pump(self, conn, src, dst):
        while True:
            try:
                data = src.recv(4096)
                if not data:
                    break
                if not conn["dead"]:
                    dst.sendall(data)
            except OSError:
                break
        for s in conn["socks"]:
            s.close()

    def cut(self):
        self.blackhole = True
        for c in self.conns:
            c["dead"] = True

    def restore(self):
        self.blackhole = False

    def close(self):
        self.server.close()
        for c in self.conns:
            for s in c["socks"]:
                s.close()


def test_half_open_link_is_detected_and_nothing_is_lost(broker, boards):
    proxy = BlackholeProxy(broker.port)
    fleet = Fleet(broker.port, [ROOT + "/tele"])
    try:
        # keepalive 2 s: ping after 1 s idle, give up 1 s later.
        board = boards(port=proxy.port, keepalive=2, count=100, every_ms=30, window=4)
        board.wait("acked", seq=20)
        proxy.cut()
        cut_at = time.monotonic()
        err = board.wait("error", timeout=6)
        detected_s = time.monotonic() - cut_at
        assert "half-open" in err["error"]
        assert detected_s < 3.5, f"half-open link noticed after {detected_s:.1f}s"
        proxy.restore()
        board.wait("connected", reconnects=1, timeout=10)
        board.wait("published_all", timeout=20)
        seqs = set()
        try:
            while len(seqs) < 100:
                seqs.add(json.loads(fleet.expect(ROOT + "/tele", timeout=5)[0])["seq"])
        except AssertionError:
            pass
        assert sorted(set(range(1, 101)) - seqs) == []
    finally:
        fleet.close()
        proxy.close()


# -- TLS ---------------------------------------------------------------------

# The board gets DER files (this unix port's mbedTLS has no PEM parser);
# Mosquitto gets PEM.

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(b):
    now = datetime.datetime.now(datetime.timezone.utc)
    return b.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))


def _write_ca(pki: Path, name: str, cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder()).subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (pki / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (pki / f"{name}.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return cert, key


def _write_leaf(pki: Path, name: str, ca, ca_key, cn, server):
    key = ec.generate_private_key(ec.SECP256R1())
    b = (_validity(x509.CertificateBuilder()).subject_name(_name(cn)).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number()))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    for enc, ext in ((serialization.Encoding.PEM, "pem"), (serialization.Encoding.DER, "der")):
        (pki / f"{name}.{ext}").write_bytes(cert.public_bytes(enc))
        (pki / f"{name}.key.{ext}").write_bytes(key.private_bytes(
            enc, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))


@pytest.fixture
def tls_broker(tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    ca, ca_key = _write_ca(pki, "ca", "pilotlight test CA")
    _write_ca(pki, "other-ca", "some other CA")
    _write_leaf(pki, "server", ca, ca_key, "localhost", server=True)
    _write_leaf(pki, "lamp1", ca, ca_key, "lamp1", server=False)
    extra = [f"cafile {pki / 'ca.pem'}", f"certfile {pki / 'server.pem'}", f"keyfile {pki / 'server.key.pem'}",
             "require_certificate true",
             "user root"]  # when run as root: read the pki in pytest's root-only tmp dir
    with Mosquitto(tmp_path / "broker", extra=extra) as b:
        yield b, pki


def _tls(pki, ca):
    return {"ca": str(pki / f"{ca}.der"), "cert": str(pki / "lamp1.der"), "key": str(pki / "lamp1.key.der"),
            "hostname": "localhost"}


def test_tls_with_the_test_ca_and_client_certificate_works(tls_broker, boards):
    broker, pki = tls_broker
    board = boards(port=broker.port, tls=_tls(pki, "ca"), count=5, every_ms=0)
    board.wait("connected", timeout=15)
    board.wait("published_all", timeout=15)


def test_tls_with_a_wrong_ca_is_refused(tls_broker, boards):
    broker, pki = tls_broker
    board = boards(port=broker.port, tls=_tls(pki, "other-ca"))
    err = board.wait("error", timeout=15)
    assert "CERT" in err["error"].upper() or "VERIFY" in err["error"].upper(), err
    with pytest.raises(AssertionError):
        board.wait("connected", timeout=2)


def test_a_kept_session_without_subscriptions_still_gets_commands(broker, boards):
    """A board reset between CONNACK and SUBACK leaves the broker a session with
    no subscription; the next boot finds `session present` and must subscribe anyway."""
    orphan = Fleet(broker.port, [], client_id="lamp-orphan", clean=False)   # a session, no SUBSCRIBE
    orphan.close()
    board = boards(port=broker.port, sub=[ROOT + "/cmd/#"], client_id="lamp-orphan")
    board.wait("connected", session=True)
    time.sleep(0.3)  # let the SUBSCRIBE land
    fleet = Fleet(broker.port, [])
    try:
        fleet.publish(ROOT + "/cmd/ping", '{"id":"p1"}')
    finally:
        fleet.close()
    assert board.wait("msg")["payload"] == '{"id":"p1"}'
