# ESP32 `socket` for the vboard: the built-in sockets, refused while the
# board's network link is down, and closed when the link drops, so the
# firmware sees what a lost Wi-Fi association does to it.
from usocket import *
import usocket
import _vbus
import uos
import utime

_open = []
_up = [uos.getenv("VBOARD_NET") != "0"]


def _link_changed(up):
    # on the main thread (scheduled by network.py)
    _up[0] = up
    if not up:
        _close_all(None)


def _close_all(_):
    while _open:
        try:
            _open.pop().close()
        except OSError:
            pass


def _alive(s):
    try:
        return s.fileno() >= 0
    except OSError:
        return False


def _check():
    import network
    if not _up[0] or not network._online():
        raise OSError(113)  # EHOSTUNREACH: the link is down, or no interface is up


# lwIP's send buffer on the esp32 port (CONFIG_LWIP_TCP_SND_BUF_DEFAULT, 4 segments
# of 1,440 bytes); Linux doubles what it is asked for. The host's own buffer is
# hundreds of KB: a burst the chip's stack refuses would vanish into it, and the
# bytes that wait in the app's heap (asyncio's out_buf) would never show.
_SO_SNDBUF = 7   # Linux's number: MicroPython's socket module does not name it
_LWIP_SND_BUF = 5760


def socket(af=AF_INET, type=SOCK_STREAM, proto=0):
    _check()
    s = usocket.socket(af, type, proto)
    if type == SOCK_STREAM:
        s.setsockopt(SOL_SOCKET, _SO_SNDBUF, _LWIP_SND_BUF // 2)
    if len(_open) > 16:
        _open[:] = [x for x in _open if _alive(x)]
    _open.append(s)
    return s


def _numeric(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    # A name goes to the network's DNS server (the supervisor); lwIP blocks its
    # caller until the answer or its last retry, and so does this: called from
    # the asyncio loop, it stops every task. A numeric address asks no one.
    if not _up[0]:
        raise OSError(-202)  # what the esp32 port raises when DNS fails
    if not _numeric(host):
        delay, ip = _vbus.call("DNS %s" % host).split()
        utime.sleep_ms(int(delay))
        if ip == "-" or not _up[0]:
            raise OSError(-202)
        host = ip
    return usocket.getaddrinfo(host, port, af, type, proto, flags)
