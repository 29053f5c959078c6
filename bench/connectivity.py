"""Issue 4 figures from the whole firmware on vboards and a real Mosquitto:

- bytes per lamp per day: every byte the board sends (and receives) is
  counted by the fault proxy between board and broker (MQTT bytes; TCP/IP and
  TLS overhead not included), split into packets; the real sizes of a `tele`
  and a `state` publish, the PINGREQ/PINGRESP and the PUBACKs are then scaled
  to a day at the default intervals (tele every 300 s, keepalive 60 s, so a
  ping after each 30 s idle: 9 per tele interval), with 4 state changes a day
  (a typical program's steps) and no motion.
- neighbour propagation latency p50/p99: PIR edge on lamp A (rig control
  channel) to the PWM duty change on lamp B, the next lamp on the street,
  polled over B's control channel; six lamps take turns as A (each may
  announce once every 5 s)."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hil_tests.rig.netfault import NetFault
from hil_tests.rig.virtual import VirtualRig
from hil_tests.support.firmware import deploy_firmware
from hil_tests.support.fleet import Fleet
from hil_tests.support.lamp import duty_at, lamp_config
from hil_tests.support.street import deploy_street
from host_tools.broker.mosquitto import Mosquitto

DAY_S = 86400
TELE_DEFAULT_S = 300
KEEPALIVE_DEFAULT_S = 60
STATE_CHANGES_PER_DAY = 4
SAMPLE_TELE_S = 5          # the interval while measuring packet sizes
SAMPLES = 50
BASE, BOOST = 30, 100      # the street's dimmed level and the presence boost, %


class _Packets:
    """Splits one direction of an MQTT byte stream into (kind, topic, size) packets."""

    def __init__(self):
        self.buf = b""
        self.packets: list[tuple[int, str, int]] = []

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 2:
            length, shift, i = 0, 0, 1
            while True:
                if i >= len(self.buf):
                    return
                byte = self.buf[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            if len(self.buf) < i + length:
                return
            body = self.buf[i:i + length]
            kind = self.buf[0] & 0xF0
            topic = body[2:2 + (body[0] << 8 | body[1])].decode() if kind == 0x30 else ""
            self.packets.append((kind, topic, i + length))
            self.buf = self.buf[i + length:]

    def size(self, kind: int, topic_end: str = "") -> float:
        sizes = [n for k, t, n in self.packets if k == kind and t.endswith(topic_end)]
        if not sizes:
            raise RuntimeError(f"no packet 0x{kind:02x} {topic_end} seen")
        return statistics.mean(sizes)


def bytes_per_day(tmp: Path) -> tuple[float, float]:
    up, down = _Packets(), _Packets()
    rig = VirtualRig(tmp / "home")
    with Mosquitto(tmp / "broker") as broker:
        proxy = NetFault(broker.port, tap=lambda d, data: (up if d == "up" else down).feed(data))
        try:
            (board,) = rig.start("bytes")
            fleet = Fleet(broker.port, f"pl/test/{board.unique_id}")
            deploy_firmware(board.port, tmp, lamp_config(board.unique_id, proxy.port, tele_interval_s=SAMPLE_TELE_S,
                                                         mqtt={"keepalive_s": KEEPALIVE_DEFAULT_S}))
            board.control().reset()
            fleet.wait_status("online", timeout=30)
            fleet.wait_json("tele", lambda d: d["seq"] > 6, timeout=60)  # a few, past the boot
            fleet.close()
        finally:
            proxy.close()
            rig.stop()
    tele, state = up.size(0x30, "/tele"), up.size(0x30, "/state")
    ping, pong, puback = 2, 2, 4  # PINGREQ, PINGRESP, PUBACK: fixed sizes in MQTT 3.1.1
    teles = DAY_S / TELE_DEFAULT_S
    pings = teles * (TELE_DEFAULT_S // (KEEPALIVE_DEFAULT_S // 2) - 1)
    sent = teles * tele + STATE_CHANGES_PER_DAY * state + pings * ping
    received = (teles + STATE_CHANGES_PER_DAY) * puback + pings * pong
    return sent, sent + received


def propagation_ms(tmp: Path) -> list[float]:
    rig = VirtualRig(tmp / "home")
    samples: list[float] = []
    with Mosquitto(tmp / "broker") as broker:
        try:
            boards, controls = deploy_street(rig, tmp, broker.port, name="prop", default_level=BASE,
                                             presence_level=BOOST, presence_hold_s=1, presence_fade_in_ms=0,
                                             presence_fade_out_ms=0)
            for b in boards:
                Fleet(broker.port, f"pl/test/{b.unique_id}", client_id=f"w-{b.name}").wait_status(
                    "online", timeout=30)
            base, boost = duty_at(BASE), duty_at(BOOST)
            last_motion = [0.0] * len(controls)
            i = 0
            while len(samples) < SAMPLES:
                a = i % len(controls)
                b = a + 1 if a + 1 < len(controls) else a - 1
                i += 1
                for c in controls:  # everyone back at base: the last hold is over
                    c.wait_for(lambda s: abs(s["lamp_level"] - base / 65535) < 1e-4, timeout=5)
                time.sleep(max(0.0, last_motion[a] + 5.2 - time.monotonic()))  # A may announce again
                t0 = time.perf_counter()
                controls[a].pir(True)
                while controls[b].duty() != boost:
                    if time.perf_counter() - t0 > 5:
                        raise TimeoutError(f"lamp {b + 1} never lit after motion at lamp {a + 1}")
                samples.append((time.perf_counter() - t0) * 1000)
                last_motion[a] = time.monotonic()
                controls[a].pir(False)
        finally:
            rig.stop()
    return samples


def measure():
    with tempfile.TemporaryDirectory() as d:
        sent, both = bytes_per_day(Path(d) / "bytes")
        yield ("bytes per lamp per day sent (MQTT, tele 300 s, keepalive 60 s, 4 state changes, no motion)",
               round(sent), "B")
        yield "bytes per lamp per day sent+received (same assumptions)", round(both), "B"
        lat = sorted(propagation_ms(Path(d) / "street"))
        yield "neighbour propagation latency p50 (motion on lamp A to duty change on lamp B)", \
            statistics.median(lat), "ms"
        yield "neighbour propagation latency p99", lat[min(len(lat) - 1, int(0.99 * len(lat)))], "ms"
