"""The login check of the fleet's RabbitMQ (its HTTP auth backend, `authn = http`).

RabbitMQ's MQTT plugin passes every login's username, password and MQTT client
id here. A login passes when the password matches the account's hash in the
generated passwd file (Mosquitto's format: the same file serves both brokers), and,
for a board or probe account, when the client id is its username: a board's
credentials under another board's client id are refused, so no board can take
another's session (what `use_username_as_clientid` does on Mosquitto). Fleet
accounts may use any client id (several tools at once). The files are re-read
when they change, so `reload` is writing them.

    python -m host_tools.broker.rabbit_auth PASSWD KINDS PORTFILE
"""
from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from ..signals import stop_signals
from .credentials import verify_password


class Accounts:
    """username -> (hash, kind), from the passwd file and the kinds file, re-read on change."""

    def __init__(self, passwd: Path, kinds: Path):
        self.passwd, self.kinds = passwd, kinds
        self._seen: tuple = ()
        self._table: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, username: str) -> tuple[str, str] | None:
        with self._lock:
            stamp = tuple(p.stat().st_mtime_ns for p in (self.passwd, self.kinds))
            if stamp != self._seen:
                kinds = json.loads(self.kinds.read_text())
                hashes = dict(line.split(":", 1) for line in self.passwd.read_text().splitlines() if ":" in line)
                self._table = {u: (h, kinds.get(u, "board")) for u, h in hashes.items()}
                self._seen = stamp
            return self._table.get(username)


def allowed(accounts: Accounts, username: str, password: str, client_id: str | None) -> bool:
    found = accounts.get(username)
    if found is None or not verify_password(password, found[0]):
        return False
    return found[1] == "fleet" or client_id == username


def handler(accounts: Accounts):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            q = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == "/auth/user":
                ok = allowed(accounts, q.get("username", ""), q.get("password", ""), q.get("client_id"))
            else:   # vhost: every account uses "/"; resources and topics are the internal backend's
                ok = self.path == "/auth/vhost"
            body = b"allow" if ok else b"deny"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):   # one line per login would drown the log
            pass
    return Handler


def main(argv: list[str]) -> int:
    passwd, kinds, port_file = map(Path, argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(Accounts(passwd, kinds)))
    server.daemon_threads = True
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    os.replace(tmp, port_file)            # the port, once listening
    try:
        with stop_signals():
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
