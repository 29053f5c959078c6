"""Prove the broker's ACLs by trying what must be refused, against the running broker.

Every "denied" probe is paired with a marker that must arrive after it on the
same path, so a refused message is known to be refused, not merely late; the
"allowed" probes show the listeners are really there (no vacuous pass)."""
from __future__ import annotations

import queue
import threading
import uuid
from dataclasses import asdict, dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..inventory import boards, groups
from ..inventory.db import Inventory
from ..inventory.errors import InventoryError
from . import credentials
from ..paths import firmware_module
from .acl import probe_home

topics = firmware_module("topics")  # the board's own topic names


@dataclass
class Probe:
    name: str
    expect: str          # allowed | denied
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BoardIdentity:
    login: Login
    site: str
    groups: tuple[str, ...]

    @property
    def root(self) -> str:
        return topics.root(self.site, self.login.username)


class CheckError(Exception):
    pass


class Session:
    """One MQTT connection with a queue of what it received."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 client_id: str | None = None, tls: dict | None = None):
        self.received: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.lost = threading.Event()
        self.refused: str | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.lost.set()
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        self.host, self.port = host, port

    def _on_connect(self, client, userdata, flags, reason, props):
        if reason.is_failure:
            self.refused = str(reason)
        self.connected.set()

    def open(self, timeout: float) -> "Session":
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.close()
            raise CheckError(f"no answer from the broker at {self.host}:{self.port} within {timeout}s")
        return self

    def subscribe(self, topic: str, timeout: float) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        done.wait(timeout)

    def publish(self, topic: str, payload: bytes, timeout: float) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout)

    def wait_for(self, payload: bytes, timeout: float) -> list[tuple[str, bytes]]:
        """Everything received up to and including `payload` (empty list if it never came)."""
        seen = []
        try:
            while True:
                item = self.received.get(timeout=timeout)
                seen.append(item)
                if item[1] == payload:
                    return seen
        except queue.Empty:
            return []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _token(label: str) -> bytes:
    return f"{label}:{uuid.uuid4().hex}".encode()


def run_check(host: str, port: int, a: BoardIdentity, b: BoardIdentity, fleet: Login,
              timeout: float = 5.0) -> list[Probe]:
    """Probe the broker with board A, board B and a fleet operator account."""
    results: list[Probe] = []

    def denied_publish(name: str, topic: str) -> None:
        bad, marker = _token("forbidden"), _token("marker")
        board_a.publish(topic, bad, timeout)
        board_a.publish(f"{a.root}/event", marker, timeout)
        seen = spy.wait_for(marker, timeout)
        leaked = any(p == bad for _, p in seen)
        results.append(Probe(name, "denied", bool(seen) and not leaked,
                             f"{topic}: " + ("delivered!" if leaked else "not delivered" if seen else "marker lost")))

    def allowed_publish(name: str, sender: Session, topic: str, receiver: Session) -> None:
        token = _token("allowed")
        sender.publish(topic, token, timeout)
        seen = receiver.wait_for(token, timeout)
        results.append(Probe(name, "allowed", bool(seen), f"{topic}: " + ("delivered" if seen else "not delivered")))

    opened: list[Session] = []

    def session(*args) -> Session:
        s = Session(host, port, *args).open(timeout)
        opened.append(s)
        return s
    try:
        spy = session(fleet.username, fleet.password)
        # The boards connect under their own names as client ids, as the firmware does.
        board_a = session(a.login.username, a.login.password, a.login.username)
        board_b = session(b.login.username, b.login.password, b.login.username)
        for s, who in ((spy, fleet.username), (board_a, a.login.username), (board_b, b.login.username)):
            if s.refused:
                raise CheckError(f"the broker refused {who}: {s.refused} (are the files from this inventory?)")
        spy.subscribe("pl/#", timeout)
        board_a.subscribe("#", timeout)          # ask for everything: the broker must filter
        group = a.groups[-1] if a.groups else None

        allowed_publish("board publishes its own state", board_a, f"{a.root}/state", spy)
        denied_publish("board publishes under another board's root", f"{b.root}/state")
        denied_publish("board publishes another board's status (spoofed offline)", f"{b.root}/status")
        denied_publish("board sends a command to another board", topics.command(b.site, b.login.username, "level"))
        denied_publish("board sends a command to itself", topics.command(a.site, a.login.username, "level"))
        denied_publish("board publishes on its bare cmd topic", f"{a.root}/cmd")
        if group:
            denied_publish("board sends a group command", topics.group_command(a.site, group, "level"))
            allowed_publish("board publishes presence on its group", board_a,
                            topics.presence(a.site, group), spy)
            allowed_publish("fleet sends a group command the board receives", spy,
                            topics.group_command(a.site, group, "level"), board_a)
        allowed_publish("fleet sends the board a command", spy, topics.command(a.site, a.login.username, "ping"),
                        board_a)

        bad, marker = _token("other-cmd"), _token("own-cmd")
        spy.publish(topics.command(b.site, b.login.username, "ping"), bad, timeout)
        spy.publish(topics.command(a.site, a.login.username, "ping"), marker, timeout)
        seen = board_a.wait_for(marker, timeout)
        leaked = any(p == bad for _, p in seen)
        results.append(Probe("board reads another board's commands", "denied", bool(seen) and not leaked,
                             "delivered!" if leaked else "not delivered" if seen else "marker lost"))

        wrong = session(a.login.username, a.login.password + "x")
        results.append(Probe("wrong password", "denied", wrong.refused is not None, wrong.refused or "accepted!"))
        anon = session(None, None)
        results.append(Probe("anonymous client", "denied", anon.refused is not None, anon.refused or "accepted!"))

        # With use_username_as_clientid, A's credentials under B's client id stay A's session
        # (it replaces board_a's connection, which is no longer needed).
        session(a.login.username, a.login.password, b.login.username)
        kicked = board_b.lost.wait(1.0)
        results.append(Probe("board takes over another board's client id", "denied", not kicked,
                             "the other board was disconnected!" if kicked else "the other board stayed connected"))
    finally:
        for s in opened:
            s.close()
    return results


def identities_from_inventory(inv: Inventory) -> tuple[BoardIdentity, BoardIdentity, Login]:
    """The two probe accounts (they have a board's rights on the first bound board's site and
    groups) and a fleet operator, as `broker config` wrote them; passwords from this user's secrets."""
    accounts = {a.username: a for a in credentials.list_accounts(inv)}
    fleet = next((a for a in accounts.values() if a.kind == "fleet" and a.role == "operator"), None)
    home = probe_home(inv)
    if fleet is None or home is None or not all(p in accounts for p in credentials.PROBES):
        raise InventoryError("the check needs a board bound to a pole, a fleet operator account and the probe "
                             "accounts in the inventory (bind a board, then `pilotlight broker config`)")
    site, grps = home
    login = {name: Login(name, credentials.password(inv, name)) for name in (*credentials.PROBES, fleet.username)}
    a, b = (BoardIdentity(login[p], site, tuple(grps)) for p in credentials.PROBES)
    return a, b, login[fleet.username]
