"""The fault proxy's link accounting, which the wire-footprint bench reports:
every TCP segment of the board's side either way, with its IP+TCP headers,
counted by the kernel, including connections already closed."""
import socket
import time

from hil_tests.rig.netfault import NetFault


def _exchange(board, broker, up, down):
    board.sendall(up)
    got = b""
    while len(got) < len(up):
        got += broker.recv(65536)
    broker.sendall(down)
    got = b""
    while len(got) < len(down):
        got += board.recv(65536)


def test_link_counts_every_segment_with_its_headers_closed_connections_too():
    server = socket.create_server(("127.0.0.1", 0))
    proxy = NetFault(server.getsockname()[1], mss=1440)
    try:
        board = socket.create_connection(("127.0.0.1", proxy.port))
        broker, _ = server.accept()
        for _ in range(3):
            _exchange(board, broker, b"u" * 100, b"d" * 4)
        _exchange(board, broker, b"x" * 5000, b"y" * 4)  # more than one segment at this MSS
        link = proxy.link()
        assert (link["bytes_in"], link["bytes_out"]) == (5300, 16)
        # SYN, 3 small messages, at least 4 segments of 1440 bytes or less; an ACK for each
        # answer at most; never fewer segments than messages
        assert 8 <= link["segs_in"] <= 3 + 4 + 1 + 4 + 4
        assert 5 <= link["segs_out"]
        assert link["header"] in (40, 52)
        assert link["wire"] == 5316 + (link["segs_in"] + link["segs_out"]) * link["header"]
        board.close()
        broker.close()
        deadline = time.monotonic() + 5
        while proxy.connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proxy.connections() == 0
        closed = proxy.link()  # the board's FIN takes a sequence number of its own
        assert closed["bytes_in"] in (5300, 5301) and closed["segs_in"] > link["segs_in"], \
            "a closed connection's segments were forgotten"
    finally:
        proxy.close()
        server.close()
