"""A fault-injecting TCP proxy between a board and its broker, on loopback.

Modes, switchable at any time:
- ``pass``: bytes flow both ways.
- ``blackhole``: a half-open link: connections stay open, but whatever either
  side sends vanishes (read and dropped); a new connection is accepted and then
  hears nothing, as when a street cabinet's uplink dies silently.
- ``cut``: every open connection is reset (RST) and new ones are reset at once.
- ``pause``: nothing is read, so bytes wait in the socket buffers and arrive
  late when the mode goes back to ``pass`` (a congested or stalled link).

Bounded: at most ``max_conns`` connections at once, loopback addresses only,
daemon threads that stop on close(). Counts the bytes forwarded each way, and
hands them to ``tap(direction, data)`` when given (direction "up" = board to
broker), so a bench can see exactly what a lamp sends.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time

MODES = ("pass", "blackhole", "cut", "pause")
_POLL_S = 0.05


def _loopback(host: str) -> None:
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise ValueError(f"netfault: {host} is not a loopback address (tests stay on this machine)")


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, as a dropped NAT entry or a rebooted router does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class NetFault:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", listen_host: str = "127.0.0.1",
                 max_conns: int = 32, tap=None):
        _loopback(target_host)
        _loopback(listen_host)
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.max_conns = max_conns
        self.tap = tap
        self.bytes = {"up": 0, "down": 0}
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._closed = threading.Event()
        self._server = socket.create_server((listen_host, 0))
        self._server.settimeout(_POLL_S)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept_loop, name="netfault-accept", daemon=True).start()

    # -- the test's side ----------------------------------------------------
    def set(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"netfault: mode must be one of {', '.join(MODES)}, got {mode!r}")
        with self._lock:
            self.mode = mode
            if mode == "blackhole":
                for c in self._conns:
                    c.dead = True  # bytes were lost: this stream never carries MQTT again
            if mode != "cut":
                return
            conns, self._conns = self._conns, []
        for c in conns:
            c.close(reset=True)

    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def close(self) -> None:
        self._closed.set()
        self.set("cut")
        self._server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- inside -----------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                board, _ = self._server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.accepted += 1
            if self.mode == "cut" or self.connections() >= self.max_conns:
                _reset(board)
                continue
            conn = _Conn(board)
            if self.mode == "blackhole":  # a black hole never reaches the broker
                conn.dead = True
            else:
                try:
                    conn.broker = socket.create_connection(self.target, timeout=2)
                except OSError:
                    _reset(board)  # broker down: the board sees a refused connection
                    continue
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._pump, args=(conn, "up"), daemon=True).start()
            if conn.broker is not None:
                threading.Thread(target=self._pump, args=(conn, "down"), daemon=True).start()

    def _pump(self, conn: "_Conn", direction: str) -> None:
        src, dst = (conn.board, conn.broker) if direction == "up" else (conn.broker, conn.board)
        src.settimeout(_POLL_S)
        try:
            while not self._closed.is_set():
                if self.mode == "pause" and not conn.dead:
                    time.sleep(_POLL_S)
                    continue
                try:
                    data = src.recv(65536)
                except (TimeoutError, socket.timeout):
                    continue
                if not data:
                    break
                if conn.dead:
                    continue  # swallowed: the sender believes it went out
                dst.sendall(data)
                self.bytes[direction] += len(data)
                if self.tap is not None:
                    self.tap(direction, data)
        except OSError:
            pass
        # The broker giving up on a dead link must not reach the board: a
        # half-open link is one the board has to notice by itself.
        if direction == "up" or not conn.dead:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close(reset=False)


class _Conn:
    def __init__(self, board: socket.socket):
        self.board = board
        self.broker: socket.socket | None = None
        self.dead = False

    def close(self, reset: bool) -> None:
        for s in (self.board, self.broker):
            if s is None:
                continue
            if reset:
                _reset(s)
            else:
                s.close()
