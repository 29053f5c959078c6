"""A private RabbitMQ cluster with its MQTT plugin on this machine, started by the
tools (as Mosquitto is), for the fleet's city-scale broker and its tests.

Every node runs Debian's rabbitmq-server with its own config, data and log dirs
(owned by the `rabbitmq` account when we are root, as the Debian wrapper would
switch to it), its own node name, ports from free ports, its own Erlang cookie and
its own epmd port: nothing is shared with a system RabbitMQ. Logins go through
the fleet's auth service (rabbit_auth.py, the passwd file Mosquitto gets);
users and topic permissions come from the inventory (rabbit_defs.py).

    with RabbitCluster(dir, nodes=2) as cluster:
        cluster.load(inv)                 # accounts, permissions
        cluster.nodes[0].mqtt_port        # boards here, fleet tools on nodes[1]
"""
from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..inventory.db import Inventory
from . import credentials
from .config import BrokerSettings, write_broker_files
from .files import write_private
from .mosquitto import BrokerError, free_port, raise_file_limit
from .rabbit_defs import definitions_text

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
SERVICE_USER = "rabbitmq"


def available() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists()


def _as_service_user():
    """Run as `rabbitmq` when we are root (the Debian layout expects it); else as ourselves."""
    if os.geteuid() != 0:
        return None, raise_file_limit
    entry = pwd.getpwnam(SERVICE_USER)

    def drop():
        raise_file_limit()
        os.setgid(entry.pw_gid)
        os.initgroups(SERVICE_USER, entry.pw_gid)
        os.setuid(entry.pw_uid)
    return entry, drop


def processes_with(env_entry: str) -> list[int]:
    """Processes whose environment holds this exact entry: ours, whatever they were forked as."""
    needle = env_entry.encode() + b"\0"
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _entries(passwd: Path) -> dict[str, str]:
    if not passwd.exists():
        return {}
    return dict(line.split(":", 1) for line in passwd.read_text().splitlines() if ":" in line)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class RabbitNode:
    def __init__(self, base: Path, name: str, epmd_port: int, cookie: str, auth_port_file: Path):
        self.base = base
        self.name = f"{name}@localhost"
        self.mqtt_port, self.dist_port, self.epmd_port = free_port(), free_port(), epmd_port
        self.cookie = cookie
        self.auth_port_file = auth_port_file
        self.proc: subprocess.Popen | None = None
        self.log = base / "log" / "startup.log"

    @property
    def env(self) -> dict:
        b = self.base
        return {**{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
                "HOME": str(b / "home"), "RABBITMQ_NODENAME": self.name, "RABBITMQ_USE_LONGNAME": "false",
                "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(b / "mnesia"), "RABBITMQ_LOG_BASE": str(b / "log"),
                "RABBITMQ_PID_FILE": str(b / "rabbit.pid"), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CTL_DIST_PORT_MIN": str(self.dist_port + 1),
                "RABBITMQ_CTL_DIST_PORT_MAX": str(self.dist_port + 30),
                "ERL_EPMD_PORT": str(self.epmd_port)}

    def write_files(self, auth_port: int) -> None:
        b = self.base
        for d in ("home", "mnesia", "log"):
            (b / d).mkdir(parents=True, exist_ok=True)
        url = f"http://127.0.0.1:{auth_port}/auth"
        (b / "rabbitmq.conf").write_text("\n".join([
            "listeners.tcp = none",                      # MQTT only: no AMQP door around the topic rights
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{self.mqtt_port}",
            "mqtt.allow_anonymous = false", "mqtt.vhost = /", "mqtt.exchange = amq.topic",
            "loopback_users = none",
            "auth_backends.1.authn = http", "auth_backends.1.authz = internal",
            "auth_http.http_method = post", f"auth_http.user_path = {url}/user",
            f"auth_http.vhost_path = {url}/vhost", f"auth_http.resource_path = {url}/resource",
            f"auth_http.topic_path = {url}/topic",
            "log.console = false", "log.file.level = warning",
        ]) + "\n")
        (b / "enabled_plugins").write_text("[rabbitmq_mqtt,rabbitmq_auth_backend_http].\n")
        cookie = b / "home" / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        entry, _ = _as_service_user()
        if entry:
            for p in [b, *b.rglob("*")]:
                os.chown(p, entry.pw_uid, entry.pw_gid)

    def start(self) -> None:
        _, drop = _as_service_user()
        self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env, cwd=self.base,
                                     preexec_fn=drop, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=open(self.base / "stderr.log", "ab"))

    def ctl(self, *args: str, timeout: float = 120.0) -> str:
        _, drop = _as_service_user()
        run = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, *args], env=self.env,
                             cwd=self.base, preexec_fn=drop, capture_output=True, text=True, timeout=timeout)
        if run.returncode:
            raise BrokerError(f"rabbitmqctl {' '.join(args)} on {self.name}: {(run.stderr or run.stdout)[-600:]}")
        return run.stdout

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BrokerError(f"RabbitMQ node {self.name} exited with {self.proc.returncode}: "
                                  f"{(self.base / 'stderr.log').read_text()[-800:]}")
            try:
                socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.3)
        raise BrokerError(f"RabbitMQ node {self.name} did not listen for MQTT within {timeout}s")

    def stop(self) -> None:
        """Stop the node (started here or by another process: see RabbitCluster.attach)."""
        mine = f"RABBITMQ_NODENAME={self.name}"
        if (self.proc is not None and self.proc.poll() is None) or (self.proc is None and processes_with(mine)):
            try:
                self.ctl("stop", timeout=60)
            except (BrokerError, subprocess.TimeoutExpired):
                pass
            if self.proc is not None:
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
        for pid in processes_with(mine):       # beam and its helpers, if still there
            _kill(pid)
        if self.proc is not None:
            self.proc.wait()
        self.proc = None


class RabbitCluster:
    """`nodes` RabbitMQ nodes clustered on this machine, and the auth service they ask."""

    def __init__(self, directory: Path | None = None, nodes: int = 2):
        # The service account must reach its node dirs: a folder of our own under /tmp by default
        # (a test's tmp_path or root's home is closed to it), removed again on stop.
        self.owned = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="pilotlight-rabbit-") if directory is None else directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        tag = uuid.uuid4().hex[:8]
        self.epmd_port = free_port()
        cookie = secrets.token_hex(20).upper()
        self.passwd, self.kinds = self.directory / "passwd", self.directory / "kinds.json"
        self.auth_port_file = self.directory / "auth.port"
        self.nodes = [RabbitNode(self.directory / f"node{i}", f"pl{tag}n{i}", self.epmd_port, cookie,
                                 self.auth_port_file) for i in range(nodes)]
        self.auth: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> "RabbitCluster":
        if not available():
            raise BrokerError("rabbitmq-server is not installed: run `make setup` (it installs the Debian package)")
        try:
            self._start_auth()
            auth_port = int(self.auth_port_file.read_text())
            for n in self.nodes:
                n.write_files(auth_port)
                n.start()
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(lambda n: n.wait_ready(timeout), self.nodes))
            first = self.nodes[0]
            for n in self.nodes[1:]:
                n.ctl("stop_app")
                n.ctl("join_cluster", first.name)
                n.ctl("start_app")
                n.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_auth(self) -> None:
        if not self.passwd.exists():
            write_private(self.passwd, "")
            write_private(self.kinds, "{}")
        self.auth_port_file.unlink(missing_ok=True)
        self.auth = subprocess.Popen([sys.executable, "-m", "host_tools.broker.rabbit_auth", str(self.passwd),
                                      str(self.kinds), str(self.auth_port_file)], start_new_session=True,
                                     env={**os.environ, "PILOTLIGHT_RABBIT_CLUSTER": str(self.directory)},
                                     stderr=open(self.directory / "auth.log", "ab"))
        deadline = time.monotonic() + 15
        while not self.auth_port_file.exists():
            if self.auth.poll() is not None or time.monotonic() > deadline:
                raise BrokerError(f"the RabbitMQ auth service did not start: "
                                  f"{(self.directory / 'auth.log').read_text()[-600:]}")
            time.sleep(0.05)

    def load(self, inv: Inventory, prune: bool = True) -> None:
        """Accounts, permissions and topic permissions from the inventory; boards' logins work at once.

        With `prune`, accounts no longer in the inventory (retired boards) are deleted. Without,
        the accounts are added to those already loaded (test beds of several inventories share
        one cluster; their device ids must differ)."""
        with open(self.directory / "load.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            files = write_broker_files(inv, self.directory / f"mosquitto-{os.getpid()}", BrokerSettings())
            accounts = credentials.list_accounts(inv)      # with those write_broker_files made
            hashes = {} if prune else _entries(self.passwd)
            hashes.update(_entries(files.passwd))
            kinds = {} if prune else json.loads(self.kinds.read_text() or "{}")
            kinds.update({a.username: a.kind for a in accounts})
            write_private(self.passwd, "".join(f"{u}:{h}\n" for u, h in hashes.items()))
            write_private(self.kinds, json.dumps(kinds))
            node = self.nodes[0]
            defs = node.base / f"definitions-{os.getpid()}.json"
            defs.write_text(definitions_text(inv, accounts))
            defs.chmod(0o600)
            entry, _ = _as_service_user()
            if entry:
                os.chown(defs, entry.pw_uid, entry.pw_gid)
            known = {u["user"] for u in json.loads(node.ctl("list_users", "--formatter", "json", "--silent") or "[]")}
            node.ctl("import_definitions", str(defs))
            defs.unlink()
            if prune:
                for gone in known - {a.username for a in accounts} - {"guest"}:
                    node.ctl("delete_user", gone)

    def save(self, path: Path) -> None:
        """What another process needs to use this cluster and stop it (attach)."""
        write_private(path, json.dumps({"directory": str(self.directory), "owned": self.owned,
                                        "epmd_port": self.epmd_port,
                                        "nodes": [{"name": n.name, "mqtt_port": n.mqtt_port, "dist_port": n.dist_port}
                                                  for n in self.nodes]}))

    @classmethod
    def attach(cls, path: Path) -> "RabbitCluster":
        """The cluster another process started and saved (one cluster for several test workers)."""
        state = json.loads(Path(path).read_text())
        self = cls.__new__(cls)
        self.directory, self.owned, self.epmd_port = Path(state["directory"]), state["owned"], state["epmd_port"]
        self.passwd, self.kinds = self.directory / "passwd", self.directory / "kinds.json"
        self.auth_port_file, self.auth = self.directory / "auth.port", None
        self.nodes = []
        for i, n in enumerate(state["nodes"]):
            node = RabbitNode(self.directory / f"node{i}", n["name"].split("@")[0], self.epmd_port, "",
                              self.auth_port_file)
            node.mqtt_port, node.dist_port = n["mqtt_port"], n["dist_port"]
            self.nodes.append(node)
        return self

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.stop(), reversed(self.nodes)))
        self._kill_epmd()
        if self.auth and self.auth.poll() is None:
            self.auth.terminate()
            self.auth.wait(10)
        self.auth = None
        for pid in processes_with(f"PILOTLIGHT_RABBIT_CLUSTER={self.directory}"):   # an attached one's auth service
            _kill(pid)
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _kill_epmd(self) -> None:
        """Our epmd (the first node started it, on our port); `epmd -kill` refuses while it lists a node."""
        for pid in processes_with(f"ERL_EPMD_PORT={self.epmd_port}"):
            _kill(pid)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
