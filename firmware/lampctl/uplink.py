# Everything the board says: retained `state` on every change, periodic `tele`,
# `event`s and `ack`s, each with `boot` (lampctl.boots), `seq` (monotonic per
# boot) and `ts` (UTC, or null while the clock is unknown). While offline, events and telemetry wait in
# the flash outbox and go out in order, with their original ts, on reconnect.
# Nothing here waits on the network: a producer makes the uplinks on time and
# a drain task empties the outbox.
import asyncio
import gc
import json
import time

from lampctl import VERSION, boots, release
from lampctl.digest import config_hash
from lampctl.outbox import EVENT, TELE, Outbox

STATE_EVERY_MS = 1000
# Answers sent at QoS 1 while fewer publishes than this are in the air, else at
# QoS 0: each QoS 1 one holds a task and its coroutines (some 400 bytes) until
# its PUBACK. At 8 (the client's window), a 1,000-command burst on a loaded
# host left 7.9 to 10.3 KB of a 96 KB heap free at its worst; at 4, 10.1 to 11.9 KB.
ACK_QOS1_MAX = 4


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
        self.boot = boots.next_boot()
        self.outbox = Outbox()
        self.last_state = None
        self.stating = False  # a state publish in the air: the next waits for it
        self.flying = 0  # fast-path publishes awaiting their PUBACK
        self.oversize = 0  # uplinks too long to send or store
        self.heap_low = None  # the lowest heap_free reported since boot
        self.started = time.ticks_ms()
        self.config_hash = config_hash(cfg)

    def _stamp(self, body, ts=None):
        body["boot"] = self.boot
        body["seq"] = self.seq + 1
        body["ts"] = ts if ts is not None else self.ctl.utc()
        return json.dumps(body, separators=(",", ":"))  # no spaces: ~10 % of a lamp's daily bytes

    def _sent(self):
        self.seq += 1  # only once the uplink is handed on: a MemoryError on the way leaves no seq gap

    def send(self, kind, body, ts=None):
        """event/tele: handed to the client now if online and nothing older
        waits, else kept in the outbox. Never waits on the network, so the
        telemetry clock keeps ticking through an outage."""
        payload = self._stamp(body, ts)
        if self.client.connected and not self.outbox.pending() and self.flying < self.client.max_inflight:
            self._launch(kind, payload)
        else:
            try:
                self.outbox.put(EVENT if kind == "event" else TELE, payload)
            except ValueError:  # longer than an outbox record: counted, never fatal
                self.oversize += 1
        self._sent()

    def _launch(self, kind, payload, retain=False, qos=1):
        # The client keeps a QoS 1 message queued across a reconnect, so the
        # PUBACK is awaited in a task of its own, not by the producer. Counted
        # once the task exists: a MemoryError making it must not leave a phantom.
        asyncio.create_task(self._publish(self.root + "/" + kind, payload, retain, qos))
        self.flying += 1

    async def _publish(self, topic, payload, retain, qos):
        try:
            await self.client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError:
            self.oversize += 1  # larger than the broker link allows: nothing to retry
        except MemoryError:
            if retain:
                self.last_state = None  # the state (the one retained uplink) goes again next turn
        finally:
            self.flying -= 1
            if retain:
                self.stating = False

    def ack(self, cmd_id, ok, error=None, **extra):
        """Answer a command; never waits, so the command task keeps emptying
        its inbox while the client's reader is paused. Under a burst, once
        ACK_QOS1_MAX publishes are in the air, answers go at QoS 0: a QoS 1
        answer holds RAM until its PUBACK, which may sit behind the burst in TCP."""
        body = {"id": cmd_id, "ok": ok}
        if error is not None:
            body["error"] = error
        body.update(extra)
        if self.client.connected:
            self._launch("ack", self._stamp(body), qos=1 if self.flying < ACK_QOS1_MAX else 0)
            self._sent()

    def state(self):
        body = self.ctl.snapshot()
        body["config_hash"] = self.config_hash
        body["fw"] = VERSION
        body["faults"] = self.sensing.diag.active()
        body["ota"] = release.state()
        return body

    def tele(self):
        meter, sensors = self.sensing.meter, self.sensing.sensors
        gc.collect()  # free heap after a collection: the headroom, not the garbage of the moment
        free = gc.mem_free()
        self.heap_low = free if self.heap_low is None else min(self.heap_low, free)
        body = {
            "power_w": meter.power_w, "energy_wh": round(meter.energy_wh(), 2),
            "burn_h": round(meter.burn_hours(), 3), "cycles": meter.cycles, "lux": sensors.lux,
            "temp_c": self.sensing.temp_c, "rssi": self.link.rssi(), "heap_free": free, "heap_low": self.heap_low,
            "uptime_s": time.ticks_diff(time.ticks_ms(), self.started) // 1000, "loop_lag_ms": self.ctl.take_lag(),
        }
        if meter.estimated:  # only when true, as `dropped` only when non-zero: bytes on a metered link
            body["estimated"] = True
        stats = self.outbox.stats()
        dropped = stats["dropped_event"] + stats["dropped_tele"] + self.oversize
        if dropped:
            body["dropped"] = dropped
        return body

    async def _drain(self):
        """Send what the outbox holds, oldest first, each removed only once the
        broker has it. Its own task: it may wait out an outage mid-record."""
        while True:
            rec = self.outbox.peek() if self.client.connected else None
            if rec is None:
                await asyncio.sleep_ms(STATE_EVERY_MS)
                continue
            try:
                await self.client.publish(self.root + "/" + rec[0], rec[1], qos=1)
            except ValueError:
                self.oversize += 1  # can never go out: do not let it block the rest
            self.outbox.pop(rec)

    async def run(self):
        asyncio.create_task(self._drain())
        last_tele = None
        while True:
            try:
                last_tele = self._turn(last_tele)
            except MemoryError:
                # No room this turn (a command burst's garbage, a fragmented heap): the
                # task lives on, or the board would never report again. The state goes
                # next turn (last_state is set once it is launched), with the client's
                # spare run given up for it.
                self.client.give_up_spare()
            else:
                self.client.take_spare()
            await asyncio.sleep_ms(STATE_EVERY_MS)

    def _turn(self, last_tele):
        """One turn of run(): events, the state if it changed, tele when due; the new last_tele."""
        e = self.events.first()
        while e is not None:
            self.send("event", e, e["ts"])
            self.events.drop_first()  # once sent or stored: a MemoryError leaves it for the next turn
            e = self.events.first()
        if self.client.connected:
            st = self.state()
            # one state in the air at most: behind a burst's PUBACKs (in TCP) a state
            # a second piled up, each holding its task (a 96 KB heap fell to 8.4 KB free)
            if st != self.last_state and not self.stating:
                self._launch("state", self._stamp(dict(st)), retain=True)
                self._sent()
                self.stating = True
                self.last_state = st
        # the interval is read at every turn: a `config` command changes it at once
        period = self.cfg["tele_interval_s"] * 1000
        now = time.ticks_ms()
        since = None if last_tele is None else time.ticks_diff(now, last_tele)
        if since is None or since >= period:
            # keep the cadence, unless half a period behind (a stalled loop, a shorter
            # interval): a due time kept from further back would send the next at once,
            # two teles in a row that tell nothing new and teach the fleet a short interval
            late = since is None or since >= period + period // 2
            last_tele = now if late else time.ticks_add(last_tele, period)
            self.send("tele", self.tele())
        return last_tele

    def reconnected(self, _session_present):
        self.last_state = None  # the retained state may be stale: send it again
