# The broker's address by name, off the loop (lampctl.worker) and bounded. A
# good answer is kept (in RAM) and used from then on, so a DNS outage never
# keeps a board from a broker it knew; a late answer still lands there.
import socket

from lampctl import worker

TIMEOUT_MS = 5000
_known = {}  # type: dict  # name -> address


def numeric(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def _ip(sockaddr):
    # the esp32 port gives (address, port); the unix port (the vboard) a raw sockaddr_in
    if isinstance(sockaddr, tuple):
        return sockaddr[0]
    return "%d.%d.%d.%d" % (sockaddr[4], sockaddr[5], sockaddr[6], sockaddr[7])


def _lookup(host, port):
    ip = _ip(socket.getaddrinfo(host, port)[0][-1])
    _known[host] = ip
    return ip


async def address(host, port, timeout_ms=TIMEOUT_MS):
    """An address for `host` to connect to without a lookup on the loop: the
    known one at once (refreshed in the background when the worker is free,
    so a moved broker is found at the next attempt), else a bounded lookup."""
    if numeric(host):
        return host
    if host in _known:
        worker.start(_lookup, (host, port))
        return _known[host]
    try:
        return await worker.call(_lookup, (host, port), timeout_ms)
    except OSError:
        if host in _known:  # an earlier, late lookup got there meanwhile
            return _known[host]
        raise
