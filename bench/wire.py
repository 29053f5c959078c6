"""Issue 11: bytes per lamp per day on the wire, measured over a compressed day.

One lamp, the real firmware at its default settings, runs a day in
1/COMPRESS of the time, behind the fault proxy (hil_tests/rig/netfault.py),
once over plain TCP and once over TLS (a Mosquitto TLS listener, the fleet's
test CA, the board's client certificate):

- Compressed: every interval the firmware times on its tick counter is divided
  by COMPRESS (tele_interval_s, mqtt.keepalive_s, presence_hold_s), so the
  compressed day holds the real day's number of `tele`s and of keepalive
  pings (the board pings after half the keepalive idle: the count scales with
  the keepalive); the board's clock is stepped along the day (set_clock), so
  its dimming program changes level at its real times of day, and the light
  sensor reads daylight from dawn to dusk.
- Street activity (stated): a street of STREET_LAMPS lamps, this one at
  POSITION; WALKERS passers-by a night walk its whole length. When one passes
  this lamp its PIR fires (the board's own motion event and presence
  message); when one passes another lamp, that lamp's presence message
  reaches this one through the broker, as every lamp of the street hears the
  street's topic (sent by the bench in the firmware's format).
- Counted: the TCP segments of the board's link (the proxy's side of it),
  either way, from the kernel's TCP_INFO: MQTT bytes (and, with TLS, the
  handshake and every record's header, nonce and tag) plus IP and TCP headers
  per segment, pure ACKs, SYN and FIN included. Headers are counted as
  negotiated on this link: 20 IPv4 + 20 TCP + 12 for timestamps (Linux both
  ends; an ESP32's lwIP sends no timestamps, so the chip's figure is 12 bytes
  a segment lower). The segment size is clamped to lwIP's 1440-byte MSS.
  Segmentation and ACKs are this kernel's: messages of the compressed day are
  kept at least EVENT_GAP_S apart, beyond the delayed-ACK timer, so they do
  not share segments a real day would not let them share."""
from __future__ import annotations

import calendar
import collections
import json
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from hil_tests.rig.netfault import NetFault
from hil_tests.rig.virtual import VirtualRig
from hil_tests.support.firmware import firmware_bundle, copy_bundle
from hil_tests.support.lamp import PARIS, lamp_config, topics
from host_tools.broker import tls
from host_tools.broker.mosquitto import Mosquitto, free_port
from host_tools.paths import firmware_module

COMPRESS = 400             # one second of the run is 6 min 40 s of the lamp's day
DAY_S = 86400
START = calendar.timegm((2026, 11, 25, 11, 0, 0))  # noon in Paris (CET), a late-November day
DUSK_H, DAWN_H = 16.9, 7.95    # Paris, 25 November: sunset 16:56, sunrise 08:17 local (UTC+1)
PROGRAM = {"id": "street", "steps": [{"at": "sunset", "level": 80}, {"at": "22:00", "level": 40},
                                     {"at": "05:30", "level": 80}, {"at": "sunrise", "level": 0}]}
STREET_LAMPS, POSITION = 10, 5
WALKERS = 10               # passers-by a night, from dusk to midnight
EVENT_GAP_S = 0.5          # between the presence messages of one walk (lamps 20 s apart in a real walk)
CLOCK_STEP_S = 0.25        # the board's clock is set again this often (2.5 minutes of the day)
MSS = 1440                 # lwIP's TCP_MSS on the ESP32 port


class _Packets:
    """Counts the MQTT packets of one direction of a plain link, by kind
    (PUBLISH by the topic's last level), for the breakdown line."""

    def __init__(self):
        self.buf = b""
        self.count: collections.Counter = collections.Counter()

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 2:
            length, shift, i = 0, 0, 1
            while True:
                if i >= len(self.buf):
                    return
                length |= (self.buf[i] & 0x7F) << shift
                shift += 7
                i += 1
                if not self.buf[i - 1] & 0x80:
                    break
            if len(self.buf) < i + length:
                return
            kind = self.buf[0] & 0xF0
            if kind == 0x30:
                body = self.buf[i:i + length]
                name = body[2:2 + (body[0] << 8 | body[1])].decode().rsplit("/", 1)[-1]
            else:
                name = {0x10: "connect", 0x20: "connack", 0x40: "puback", 0x80: "subscribe", 0x90: "suback",
                        0xC0: "pingreq", 0xD0: "pingresp"}.get(kind, hex(kind))
            self.count[name] += 1
            self.buf = self.buf[i + length:]


def _defaults() -> tuple[int, int, int]:
    cfg = firmware_module("config")
    return cfg.DEFAULTS["tele_interval_s"], cfg.KEEPALIVE_S, cfg.DEFAULTS["presence_hold_s"]


def _compressed(seconds: int, what: str) -> int:
    if seconds % COMPRESS:
        raise ValueError(f"{what} {seconds} s does not divide by the compression {COMPRESS}")
    return seconds // COMPRESS


def _local_hour(unix: float) -> float:
    return ((unix + 3600) % DAY_S) / 3600  # CET


class _Day:
    """Drives one board through the compressed day: its clock, daylight, walkers."""

    def __init__(self, control, presence_pub, street_topic, walkers):
        self.walkers = walkers
        self.c = control
        self.pub = presence_pub
        self.topic = street_topic
        self.walker_seq = 0

    def board_time(self, t0: float) -> float:
        return START + (time.monotonic() - t0) * COMPRESS

    def run(self) -> None:
        night_s = ((24 - DUSK_H) * 3600)  # dusk to midnight: when the walkers pass
        walk_at = [START + (DUSK_H - 12) * 3600 + (i + 0.5) * night_s / self.walkers for i in range(self.walkers)]
        t0 = time.monotonic()
        dark = None
        while True:
            now = self.board_time(t0)
            if now >= START + DAY_S:
                return
            self.c.set_clock(now)
            hour = _local_hour(now)
            night = hour >= DUSK_H or hour < DAWN_H
            if night != dark:
                self.c.set_lux(2.0 if night else 20000.0)
                dark = night
            if walk_at and now >= walk_at[0]:
                walk_at.pop(0)
                self.walk()
                continue
            time.sleep(CLOCK_STEP_S)

    def walk(self) -> None:
        self.walker_seq += 1
        for pos in range(1, STREET_LAMPS + 1):
            if pos == POSITION:
                self.c.pir(True)
                self.c.pir(False)
            else:  # that lamp's message, as lampctl.presence.Neighbours.announce makes it and remote sends it
                origin = f"b0a7{pos:08x}"
                self.pub.publish(self.topic, json.dumps({"origin": origin, "seq": self.walker_seq, "pos": pos,
                                                         "hops": 1}, separators=(",", ":")), qos=0)
            time.sleep(EVENT_GAP_S)


def _tls_files(tmp: Path, uid: str) -> tuple[list[str], dict, dict]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    ca = tmp / "ca"
    ca.mkdir()
    tls.ensure_ca(ca)
    tls.issue(ca, tls.SERVER, ["127.0.0.1", "localhost"])
    cert, key = tls.issue(ca, uid)
    der = {"ca.der": x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes()).public_bytes(
               serialization.Encoding.DER),
           "client.der": x509.load_pem_x509_certificate(Path(cert).read_bytes()).public_bytes(
               serialization.Encoding.DER),
           "client.key.der": serialization.load_pem_private_key(Path(key).read_bytes(), password=None).private_bytes(
               serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
               serialization.NoEncryption())}
    extra = [f"cafile {ca / 'ca.pem'}", f"certfile {ca / (tls.SERVER + '.pem')}",
             f"keyfile {ca / (tls.SERVER + '.key')}", "require_certificate true", "user root"]
    return extra, der, {"tls": True, "ca_file": "ca.der", "cert_file": "client.der", "key_file": "client.key.der"}


def one_day(tmp: Path, rig: VirtualRig, name: str, with_tls: bool, walkers: int) -> dict:
    tele_s, keepalive_s, hold_s = _defaults()
    tmp.mkdir(parents=True, exist_ok=True)
    (board,) = rig.start(name)
    plain_port = free_port()  # the bench's own (plain) listener beside the board's
    extra, files, mqtt = ([], {}, {})
    if with_tls:
        extra, files, mqtt = _tls_files(tmp, board.unique_id)
    extra = extra + [f"listener {plain_port} 127.0.0.1"]
    with Mosquitto(tmp / "broker", extra=extra) as broker:
        packets = {"up": _Packets(), "down": _Packets()}
        proxy = NetFault(broker.port, mss=MSS, tap=None if with_tls else lambda d, data: packets[d].feed(data))
        pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"street-{name}")
        c = board.control()
        try:
            street = "centre.main"
            cfg = lamp_config(board.unique_id, proxy.port, street=street, position=POSITION, program=PROGRAM,
                              location=PARIS, tele_interval_s=_compressed(tele_s, "tele_interval_s"),
                              presence_hold_s=max(1, hold_s // COMPRESS),
                              mqtt={"keepalive_s": _compressed(keepalive_s, "keepalive_s"), **mqtt})
            bundle = firmware_bundle(tmp / "bundle", cfg)
            for fname, data in files.items():
                (bundle / fname).write_bytes(data)
            copy_bundle(board.port, bundle)
            pub.connect("127.0.0.1", plain_port, keepalive=60)
            pub.loop_start()
            c.set_clock(START)
            c.set_lux(20000.0)
            c.reset()
            deadline = time.monotonic() + 30
            while not proxy.connections():  # the day starts as the board first reaches the broker
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: the board never connected")
                time.sleep(0.05)
            _Day(c, pub, topics.presence("test", street), walkers).run()
            return {**proxy.link(), "packets": {d: dict(p.count) for d, p in packets.items()}}
        finally:
            pub.loop_stop()
            pub.disconnect()
            c.close()
            proxy.close()


RUNS = {"plain": (False, WALKERS), "tls": (True, WALKERS), "quiet": (False, 0)}  # run side by side


def measure():
    results: dict[str, dict] = {}
    errors: list[BaseException] = []
    with tempfile.TemporaryDirectory() as d:
        rig = VirtualRig(Path(d) / "home")
        try:
            def run(name):
                try:
                    results[name] = one_day(Path(d) / name, rig, f"wire-{name}", *RUNS[name])
                except BaseException as e:  # reported below, after the other days end
                    errors.append(e)
            days = [threading.Thread(target=run, args=(name,)) for name in RUNS]
            for t in days:
                t.start()
            for t in days:
                t.join()
        finally:
            rig.stop()
    if errors:
        raise errors[0]
    tele_s, keepalive_s, _ = _defaults()
    plain, secure, quiet = results["plain"], results["tls"], results["quiet"]
    yield "bytes per lamp per day on the wire", plain["wire"], "B"
    yield "bytes per lamp per day on the wire with tls", secure["wire"], "B"
    yield (f"wire day: tele {tele_s} s, keepalive {keepalive_s} s, {WALKERS} passers-by a night on a "
           f"{STREET_LAMPS}-lamp street; tcp segments up/down"), \
        f"{plain['segs_in']}/{plain['segs_out']} plain, {secure['segs_in']}/{secure['segs_out']} tls", ""
    yield "bytes per lamp per day on the wire, mqtt only (no tcp/ip)", plain["bytes_in"] + plain["bytes_out"], "B"
    yield "bytes per lamp per day on the wire, no passers-by", quiet["wire"], "B"
    yield "bytes on the wire per passer-by a night (the lamp's share)", \
        round((plain["wire"] - quiet["wire"]) / WALKERS), "B"
    for d in ("up", "down"):
        yield f"wire day mqtt packets {d}", ", ".join(f"{k} {v}" for k, v in sorted(plain["packets"][d].items())), ""
