"""QoS 1 publishing of lampctl.mqtt on the vboard's interpreter against a real
Mosquitto, each figure also as a ratio to its floor: the best plain code doing
the same work in the same interpreter, a blocking loop over a raw socket
sending the same PUBLISH packets (same payload, same window of unacknowledged
messages for throughput, one at a time for the round trip) and reading the
PUBACKs batched as the client reads them (128 bytes at a time). Throughput
ratio = ours / floor (1.0 is the ceiling); round-trip ratio = ours / floor
(1.0 is the floor). Rounds alternate floor and client; each figure is the
median of its rounds, with the spread (lowest-highest) beside it."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from statistics import median

from host_tools.broker.mosquitto import Mosquitto
from host_tools.paths import REPO
from host_tools.vboard.board import micropython_binary

MESSAGES = 2000
WINDOW = 8  # the client's max_inflight
ROUND_TRIPS = 1000
ROUNDS = 7
READ_AHEAD = 128  # lampctl.mqtt's _READ_AHEAD: the floor batches its reads the same way

# Runs on the board's interpreter; options arrive in $MQTT_BENCH.
BOARD_SCRIPT = r'''
import asyncio, gc, json, os, select, socket, time
from lampctl import mqtt_codec as codec
from lampctl.mqtt import MQTTClient

opt = json.loads(os.getenv("MQTT_BENCH"))
PORT, N, W, RTT_N, ROUNDS = opt["port"], opt["n"], opt["window"], opt["rtt_n"], opt["rounds"]
READ_AHEAD = opt["read_ahead"]
TOPIC = b"pl/bench/lamp1/tele"
PAYLOAD = (b'{"seq":1234,"ts":1790000000,"p":41.2,"e":1234.5,"bh":5678,"lux":3.1,'
           b'"t":31.5,"rssi":-67,"heap":40960,"up":86400}')


def p50(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2]


def raw_connect():
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", PORT)[0][-1])
    buf = bytearray(64)
    s.write(buf[:codec.connect_into(buf, "bench-raw", 60, True)])
    raw_read(s, memoryview(bytearray(4)), 4)
    return s


def raw_read(s, mv, n):
    got = 0
    while got < n:
        got += s.readinto(mv[got:n])


class Raw:
    """The floor: blocking socket, prebuilt packet, only the packet id patched."""

    def __init__(self):
        self.s = raw_connect()
        self.pkt = bytearray(256)
        self.n = codec.publish_into(self.pkt, TOPIC, PAYLOAD, 1, False, False, 1)
        self.at = self.n - len(PAYLOAD) - 2  # the packet id's offset
        self.mv = memoryview(self.pkt)
        self.ra = memoryview(bytearray(READ_AHEAD))
        # Non-blocking, waited on with poll: what asyncio's stream does for the client,
        # so a read returns what has arrived (a blocking readinto waits for a full buffer).
        self.s.setblocking(False)
        self.poll = select.poll()
        self.poll.register(self.s, select.POLLIN)
        self.partial = 0

    def acks(self):
        """The PUBACKs that have arrived, read in one go (waits for at least one byte)."""
        self.poll.poll()
        self.partial += self.s.readinto(self.ra) or 0
        n, self.partial = self.partial // 4, self.partial % 4
        return n

    def send(self, i):
        pid = i % 65535 + 1
        self.pkt[self.at] = pid >> 8
        self.pkt[self.at + 1] = pid & 0xFF
        sent = 0
        while sent < self.n:
            sent += self.s.write(self.mv[sent:self.n]) or 0

    def throughput(self):
        t0 = time.ticks_us()
        sent = acked = 0
        while acked < N:
            while sent < N and sent - acked < W:
                self.send(sent)
                sent += 1
            acked += self.acks()
        return N * 1e6 / time.ticks_diff(time.ticks_us(), t0)

    def round_trips(self, k, out):
        for i in range(k):
            t = time.ticks_us()
            self.send(i)
            while not self.acks():
                pass
            out.append(time.ticks_diff(time.ticks_us(), t))


async def throughput(c):
    async def worker(k):
        for _ in range(k):
            await c.publish(TOPIC, PAYLOAD, qos=1)

    t0 = time.ticks_us()
    await asyncio.gather(*[worker(N // W) for _ in range(W)])
    return (N // W) * W * 1e6 / time.ticks_diff(time.ticks_us(), t0)


async def round_trips(c, k, out):
    for _ in range(k):
        t = time.ticks_us()
        await c.publish(TOPIC, PAYLOAD, qos=1)
        out.append(time.ticks_diff(time.ticks_us(), t))


async def main():
    gc.collect()
    before = gc.mem_alloc()
    c = MQTTClient("bench-client", "127.0.0.1", PORT, keepalive_s=60, clean_session=True,
                   max_msg=512, max_inflight=W)
    runner = asyncio.create_task(c.run())
    while not c.connected:
        await asyncio.sleep_ms(5)
    gc.collect()
    heap = gc.mem_alloc() - before
    raw = Raw()
    # Interleaved rounds, best throughput of each: the machine is shared.
    rates, raw_rates, rtts, raw_rtts = [], [], [], []
    for _ in range(ROUNDS):
        raw_rates.append(raw.throughput())
        rates.append(await throughput(c))
        r, q = [], []
        raw.round_trips(RTT_N // ROUNDS, q)
        await round_trips(c, RTT_N // ROUNDS, r)
        raw_rtts.append(p50(q) / 1000)
        rtts.append(p50(r) / 1000)
    raw.s.close()
    await c.disconnect()
    await runner
    print(json.dumps({"raw_rate": raw_rates, "rate": rates, "raw_rtt": raw_rtts, "rtt": rtts, "heap": heap}))


asyncio.run(main())
'''


def run_board(port: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "mqtt_bench.py"
        script.write_text(BOARD_SCRIPT)
        env = dict(os.environ, MICROPYPATH=f"{REPO / 'firmware'}:.frozen",
                   MQTT_BENCH=json.dumps({"port": port, "n": MESSAGES, "window": WINDOW, "rtt_n": ROUND_TRIPS,
                                               "rounds": ROUNDS, "read_ahead": READ_AHEAD}))
        run = subprocess.run([micropython_binary(), str(script)], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    if run.returncode:
        raise RuntimeError(f"micropython bench failed: {run.stdout}{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure():
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        r = run_board(broker.port)
    ratio = [a / b for a, b in zip(r["rate"], r["raw_rate"])]
    rtt_ratio = [a / b for a, b in zip(r["rtt"], r["raw_rtt"])]
    for name, values, unit in (("mqtt qos1 throughput", r["rate"], "msg/s"),
                               ("mqtt qos1 raw socket floor throughput", r["raw_rate"], "msg/s"),
                               ("mqtt qos1 throughput vs raw socket floor", ratio, "ratio"),
                               ("mqtt puback round trip p50", r["rtt"], "ms"),
                               ("mqtt puback round trip vs raw socket floor", rtt_ratio, "ratio")):
        yield name, median(values), unit
        yield f"{name} range over {len(values)} rounds", f"{min(values):.4g}-{max(values):.4g}", unit
    yield "mqtt client heap", r["heap"], "bytes"
