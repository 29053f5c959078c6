"""Issue 10 figures: the board's signature check (on the vboard's interpreter),
the RAM the update code needs, the most heap a whole update has in use on a
vboard, one board's update over a 115200-equivalent link (the whole app, and
a one-file change), and a district of 10,000 simulated boards fetching a
one-file update from one release server."""
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hil_tests.ota_rig import Server, Store, provision
from hil_tests.rig.virtual import VirtualRig
from hil_tests.support.broker import running_broker
from hil_tests.support.fleet import Watch
from hil_tests.support.lamp import NIGHT, lamp_config
from host_tools.paths import FIRMWARE
from host_tools.release.server import ReleaseServer, raise_open_files_limit
from host_tools.vboard.board import micropython_binary

LINK_115200 = 11520            # bytes per second: 115200 baud, 10 bits a byte
DISTRICT = 10_000
CONCURRENT = 1000              # boards fetching at once (a wave of the roll-out)

# Board side, under the vboard's interpreter: verify the release's manifest as
# lampctl/ota.py does (streamed from flash), then hash every file of the release.
_VERIFY = """
import gc, sys, time, binascii, hashlib
sys.path.insert(0, %(fw)r)
from lampctl import ed25519
key = binascii.unhexlify(%(key)r)
buf = bytearray(512)
def pieces(p):
    with open(p, 'rb') as f:
        while True:
            k = f.readinto(buf)
            if not k:
                return
            yield memoryview(buf)[:k]
sig = open(%(rel)r + '/manifest.sig', 'rb').read()
gc.collect()
t = time.ticks_us()
ok = ed25519.verify(key, pieces(%(rel)r + '/manifest.json'), sig)
dt = time.ticks_diff(time.ticks_us(), t)
import json
for p, n, h in json.load(open(%(rel)r + '/manifest.json'))['files']:
    d = hashlib.sha256()
    for m in pieces(%(rel)r + '/' + p):
        d.update(m)
    assert binascii.hexlify(d.digest()).decode() == h
print(ok, dt)
"""


def _verify(store, heap):
    code = _VERIFY % {"fw": str(FIRMWARE), "key": store.public_hex, "rel": str(store.base.path)}
    run = subprocess.run([micropython_binary(), "-X", f"heapsize={heap}", "-c", code],
                         capture_output=True, text=True, timeout=120)
    if run.returncode or not run.stdout.startswith("True"):
        return None
    return int(run.stdout.split()[1]) / 1e6


def _ram_peak(store):
    """The smallest GC heap in which the check runs: the update code's high-water mark."""
    lo, hi = 4096, 96 * 1024
    if _verify(store, hi) is None:
        raise RuntimeError("the signature check does not run in 96 KB")
    while hi - lo > 512:
        mid = (lo + hi) // 2
        if _verify(store, mid) is None:
            lo = mid
        else:
            hi = mid
    return hi


# Board side, started from boot.py in every boot of the board under measure:
# every 2 ms a thread schedules, onto the main thread between two bytecodes
# (where the firmware's own collections happen), a collection and a look at
# the heap then in use (live data only), printed whenever it is a new high for
# this boot. (A collection run from the thread itself scans the interrupted
# main thread's stack whole, stale slots included, and over-counts.)
_HEAPWATCH = """
import _thread, gc, micropython, time
_high = [0]
def _sample(_):
    gc.collect()
    used = gc.mem_alloc()
    if used > _high[0]:
        _high[0] = used
        print("heapwatch high %d" % used)
def _tick():
    while True:
        try:
            micropython.schedule(_sample, None)
        except RuntimeError:
            pass  # the last one has not run yet
        time.sleep_ms(2)
_thread.start_new_thread(_tick, ())
"""
_HIGH = re.compile(r"heapwatch high (\d+)")


def _update_high_water(tmp, store, release):
    """The most heap in use over a whole update (the command taken, the update boot's
    download, verification and switch, the new app's boot until it confirms), on
    the vboard's interpreter at the app's heap, sampled after a collection."""
    server = Server(store.releases)
    rig = VirtualRig(tmp / "home-ram")
    try:
        with running_broker(tmp / "broker-ram") as broker:
            watch = Watch(broker.port)
            (board,) = rig.start("ram")   # the firmware with ROMFS, at the 96 KB budget
            provision(board, tmp, lamp_config(board.unique_id, broker.port), store.base, store.public_hex)
            boot = board.read_flash("boot.py")
            board.rewrite_flash({"heapwatch.py": _HEAPWATCH, "boot.py": b"import heapwatch\n" + boot})
            root = f"pl/test/{board.unique_id}"
            with board.control() as c:
                c.set_clock(NIGHT)
                c.reset()
                watch.wait_json(root + "/state", lambda d: "ota" in d, timeout=60)
                _, since = c.console(0)
                watch.publish(root + "/cmd/ota", {"id": "r1", **release.command(server.url)})
                watch.wait_json(root + "/event", lambda d: d["kind"] == "ota_confirmed", timeout=300)
                text, _ = c.console(since)
            watch.close()
            highs = [int(n) for n in _HIGH.findall(text)]
            if not highs:
                raise RuntimeError("the board printed no heap figure during the update")
            return max(highs)
    finally:
        rig.stop()
        server.stop()


def every_file_changed(store, base, number, version):
    """`base` with every module of the app different (a blank line first moves every
    line number its bytecode records) and another version: an update downloads it whole."""
    changes = {}
    for path in sorted((FIRMWARE / "lampctl").rglob("*.py")):
        rel = path.relative_to(FIRMWARE).as_posix()
        changes[rel] = "\n" + path.read_text().replace('VERSION = "%s"' % base.version, 'VERSION = "%s"' % version)
    return store.variant(base, number, changes, version=version)


def _update_time(tmp, store, release):
    """Command to confirmed new app, one board, server throttled to a 115200 link."""
    server = Server(store.releases, rate=LINK_115200)
    rig = VirtualRig(tmp / f"home-{release.number}")
    try:
        with running_broker(tmp / f"broker-{release.number}") as broker:
            watch = Watch(broker.port)
            (board,) = rig.start("bench")
            provision(board, tmp, lamp_config(board.unique_id, broker.port), store.base, store.public_hex)
            with board.control() as c:
                c.set_clock(NIGHT)
                c.reset()
            root = f"pl/test/{board.unique_id}"
            watch.wait_json(root + "/state", lambda d: "ota" in d, timeout=60)
            t0 = time.monotonic()
            watch.publish(root + "/cmd/ota", {"id": "b1", **release.command(server.url)})
            watch.wait_json(root + "/event", lambda d: d["kind"] == "ota_confirmed", timeout=300)
            watch.close()
            return time.monotonic() - t0
    finally:
        rig.stop()
        server.stop()


async def _district(root: Path, number: int, files: list[str]) -> float:
    """DISTRICT boards fetch the manifest, its signature and the changed files, CONCURRENT at once."""
    server = await ReleaseServer(root, backlog=CONCURRENT).start()
    gate = asyncio.Semaphore(CONCURRENT)

    async def get(path):
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(f"GET /{number}/{path} HTTP/1.0\r\n\r\n".encode())
        body = await r.read()
        w.close()
        if not body.startswith(b"HTTP/1.0 200"):
            raise RuntimeError(f"{path}: {body[:40]!r}")

    async def board():
        async with gate:
            for path in ["manifest.json", "manifest.sig", *files]:
                await get(path)

    t0 = time.monotonic()
    await asyncio.gather(*(board() for _ in range(DISTRICT)))
    took = time.monotonic() - t0
    await server.stop()
    return took


def measure():
    raise_open_files_limit()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = Store(tmp / "store")
        store.base = store.build()
        one = store.with_version(store.base, 2, "0.1.0-bench")
        whole = every_file_changed(store, store.base, 3, "0.1.0-whole")
        times = [t for t in (_verify(store, 96 * 1024) for _ in range(5)) if t is not None]
        yield "ota verify signature", statistics.median(times), "s"
        yield "ota ram peak", _ram_peak(store), "bytes"
        yield "ota update ram high-water", _update_high_water(tmp, store, one), "bytes"
        yield "ota update time per board at 115200-equivalent link (full bundle)", \
            _update_time(tmp, store, whole), "s"
        yield "ota update time per board at 115200-equivalent link (one-file change)", \
            _update_time(tmp, store, one), "s"
        changed = ["lampctl/__init__.mpy"]
        yield "ota campaign 10000 boards", asyncio.run(_district(store.releases, 2, changed)), "s"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for name, value, unit in measure():
        print(f"{name}: {value:.4g} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}", flush=True)
    sys.exit(0)
