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
broker), so a bench can see exactly what a lamp sends. ``link()`` counts the
TCP segments on the board's side of the proxy (the lamp's own link), from the
kernel's TCP_INFO: every segment either way, pure ACKs, SYN, FIN and
retransmissions included. ``mss`` clamps that link's segment size as a real
network's MTU does (loopback's is 64 KB).
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time

MODES = ("pass", "blackhole", "cut", "pause")
_POLL_S = 0.05
# struct tcp_info (linux/tcp.h): tcpi_options at byte 5, tcpi_bytes_received (u64) at 128,
# tcpi_segs_out and tcpi_segs_in (u32, Linux 4.2+) at 136 and 140, tcpi_bytes_sent
# (u64, retransmissions included, Linux 4.19+) at 200.
_TCP_INFO_LEN = 208
_TCPI_OPT_TIMESTAMPS = 1
IP_TCP_HEADER = 40      # IPv4 and TCP headers without options
TIMESTAMP_OPTION = 12   # the timestamps option (10 bytes, padded to 12) on every segment once negotiated


def tcp_segments(sock: socket.socket) -> dict | None:
    """Segments and payload bytes either way on a connected socket, and the
    IP+TCP header bytes of each segment (None where TCP_INFO is not Linux's)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except (OSError, AttributeError):
        return None
    if len(raw) < _TCP_INFO_LEN:
        return None
    (received,) = struct.unpack_from("Q", raw, 128)
    out, in_ = struct.unpack_from("II", raw, 136)
    (sent,) = struct.unpack_from("Q", raw, 200)
    header = IP_TCP_HEADER + (TIMESTAMP_OPTION if raw[5] & _TCPI_OPT_TIMESTAMPS else 0)
    return {"segs_out": out, "segs_in": in_, "bytes_out": sent, "bytes_in": received, "header": header}


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
                 max_conns: int = 32, tap=None, mss: int | None = None):
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
        self._closed_links: list[dict] = []   # link() of connections already closed
        self._server = socket.create_server((listen_host, 0))
        if mss:  # inherited by the accepted sockets, announced in the SYN-ACK
            self._server.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
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
            self._closing(c)
            c.close(reset=True)

    def _closing(self, conn: "_Conn") -> None:
        stats = tcp_segments(conn.board)
        if stats:
            with self._lock:
                self._closed_links.append(stats)

    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def link(self) -> dict:
        """The board-side links' TCP totals so far, closed connections included:
        segments and payload bytes either way, and `wire` bytes (payload plus
        each segment's IP+TCP headers)."""
        with self._lock:
            stats = list(self._closed_links) + [s for s in (tcp_segments(c.board) for c in self._conns) if s]
        total = {k: sum(s[k] for s in stats) for k in ("segs_out", "segs_in", "bytes_out", "bytes_in")}
        total["wire"] = total["bytes_out"] + total["bytes_in"] + sum(
            (s["segs_out"] + s["segs_in"]) * s["header"] for s in stats)
        total["header"] = max((s["header"] for s in stats), default=IP_TCP_HEADER)
        return total

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
                mine = conn in self._conns
                if mine:
                    self._conns.remove(conn)
            if mine:
                self._closing(conn)
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
