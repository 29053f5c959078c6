# Everything the board says: retained `state` on every change, periodic `tele`,
# `event`s and `ack`s, each with `seq` (monotonic per boot) and `ts` (UTC, or
# null while the clock is unknown). While offline, events and telemetry wait in
# the flash outbox and go out in order, with their original ts, on reconnect.
import asyncio
import gc
import json
import time

from lampctl import VERSION, clock
from lampctl.outbox import EVENT, TELE, Outbox

STATE_EVERY_MS = 1000


def digest(obj):
    # a short, stable digest of a config or program, so the fleet sees drift
    import hashlib
    import binascii
    return binascii.hexlify(hashlib.sha256(json.dumps(obj).encode()).digest()[:6]).decode()


class Uplink:
    def __init__(self, cfg, ctl, sensing, link, events, client, root):
        self.cfg = cfg
        self.ctl = ctl
        self.sensing = sensing
        self.link = link
        self.events = events
        self.client = client
        self.root = root
        self.seq = 0
        self.outbox = Outbox()
        self.last_state = None
        self.heap_low = gc.mem_free()
        self.started = time.ticks_ms()
        self.config_hash = digest(cfg)

    def _stamp(self, body, ts=None):
        self.seq += 1
        body["seq"] = self.seq
        body["ts"] = ts if ts is not None else (clock.utc() if self.ctl.clock_ok else None)
        return json.dumps(body)

    async def send(self, kind, body, ts=None):
        """event/tele: published now if online, else kept in the outbox."""
        payload = self._stamp(body, ts)
        if self.client.connected and not self.outbox.pending():
            try:
                await self.client.publish(self.root + "/" + kind, payload, qos=1)
                return
            except ValueError:
                return  # larger than the broker link allows: nothing to retry
        self.outbox.put(EVENT if kind == "event" else TELE, payload)

    async def ack(self, cmd_id, ok, error=None, **extra):
        body = {"id": cmd_id, "ok": ok}
        if error is not None:
            body["error"] = error
        body.update(extra)
        if self.client.connected:
            await self.client.publish(self.root + "/ack", self._stamp(body), qos=1)

    def state(self):
        ctl = self.ctl
        return {
            "level": round(ctl.arbiter.fade.target, 1), "mode": ctl.mode, "program": ctl.state.program,
            "program_hash": ctl.program_hash, "config_hash": self.config_hash, "fw": VERSION,
            "clock": (ctl.state.clock_source or "rtc") if ctl.clock_ok else "unknown",
            "faults": self.sensing.diag.active(),
        }

    def tele(self):
        meter, sensors = self.sensing.meter, self.sensing.sensors
        free = gc.mem_free()
        self.heap_low = min(self.heap_low, free)
        body = {
            "power_w": meter.power_w, "estimated": meter.estimated, "energy_wh": round(meter.energy_wh(), 2),
            "burn_h": round(meter.burn_hours(), 3), "cycles": meter.cycles, "lux": sensors.lux,
            "temp_c": self.sensing.temp_c, "rssi": self.link.rssi(), "heap_free": free, "heap_low": self.heap_low,
            "uptime_s": time.ticks_diff(time.ticks_ms(), self.started) // 1000, "loop_lag_ms": self.ctl.take_lag(),
        }
        stats = self.outbox.stats()
        if stats["dropped_event"] or stats["dropped_tele"]:
            body["dropped"] = stats["dropped_event"] + stats["dropped_tele"]
        return body

    async def _drain(self):
        while self.client.connected:
            rec = self.outbox.peek()
            if rec is None:
                return
            await self.client.publish(self.root + "/" + rec[0], rec[1], qos=1)
            self.outbox.pop(rec)

    async def run(self):
        tele_ms = self.cfg["tele_interval_s"] * 1000
        next_tele = time.ticks_ms()
        while True:
            for e in self.events.take():
                await self.send("event", e, e.pop("ts"))
            if self.client.connected:
                await self._drain()
                st = self.state()
                if st != self.last_state:
                    await self.client.publish(self.root + "/state", self._stamp(dict(st)), qos=1, retain=True)
                    self.last_state = st
            if time.ticks_diff(time.ticks_ms(), next_tele) >= 0:
                next_tele = time.ticks_add(next_tele, tele_ms)
                await self.send("tele", self.tele())
            await asyncio.sleep_ms(STATE_EVERY_MS)

    def reconnected(self, _session_present):
        self.last_state = None  # the retained state may be stale: send it again
