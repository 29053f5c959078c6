# The wire from the ESP32 shims to the vboard supervisor, which plays the
# hardware: pins, PWM, I2C devices, watchdog, clock and network link.
# Two unix sockets: requests answered in order (main thread), and events pushed
# by the supervisor (pin edges, clock jumps, link changes) read by one thread
# that only hands work to micropython.schedule, as an ISR would.
import usocket
import ustruct
import uos
import _thread
import micropython
import utime

_NAME = uos.getenv("VBOARD_BUS")
_handlers = {}
_last = {}  # the latest event of each kind, for a shim that registers late


def _open(role):
    s = usocket.socket(usocket.AF_UNIX, usocket.SOCK_STREAM)
    s.connect(ustruct.pack("H", usocket.AF_UNIX) + b"\0" + _NAME.encode())
    s.write(role + b"\n")
    return s


_req = _open(b"REQ")
_req_lock = _thread.allocate_lock()  # a worker thread may ask too: one request at a time


def call(line):
    # One request, one reply line: "OK [value]" or "ERR errno".
    with _req_lock:
        _req.write(line.encode() + b"\n")
        reply = _req.readline()
    if not reply:
        raise OSError(5)  # EIO: the supervisor is gone
    if reply[:3] == b"ERR":
        raise OSError(int(reply[4:]))
    return reply[3:].strip().decode()


def tell(line):
    # A constant request (bytes, "!" first, newline last) with no reply: what a
    # register write costs on the chip, no allocation (the watchdog's feed).
    _req.write(line)


def on(kind, handler):
    # handler(args) runs on the event thread: it may only set values or
    # micropython.schedule() work for the main thread.
    _handlers[kind] = handler
    if kind in _last:
        handler(_last[kind])


def schedule(fn, arg):
    while True:
        try:
            micropython.schedule(fn, arg)
            return
        except RuntimeError:  # queue full: the main thread is busy, retry
            utime.sleep_ms(1)


def _events(sock):
    # This thread is the board's interrupt lines: it must outlive any one
    # event (a dead thread would be a PIR that never fires again).
    while True:
        try:
            line = sock.readline()
        except OSError:
            continue  # interrupted (a signal, the GC scanning this thread): read again
        if not line:
            return  # the supervisor is gone: so is the board
        try:
            parts = line.decode().split()
            _last[parts[0]] = parts[1:]
            handler = _handlers.get(parts[0])
            if handler:
                handler(parts[1:])
        except Exception as e:
            import sys
            sys.print_exception(e)


_thread.start_new_thread(_events, (_open(b"EVT"),))
