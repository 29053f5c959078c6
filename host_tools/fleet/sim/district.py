"""Runs a shard of simulated lamps in one asyncio loop: one MQTT connection per
lamp with its own account, the board's connection rules (Will, persistent
session, status and state on every connect, backoff), periodic tele, and a
control socket through which tests and the CLI inject faults and cut power."""
from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import time
from pathlib import Path

from ..mqtt_async import AsyncMQTT, ConnectRefused
from .injection import Injection, assign
from .lamp import PWRON_RESET, SOFT_RESET, WDT_RESET, SimLamp, topics

CONNECTS_AT_ONCE = 200      # paced like a district after a broker restart, not all in one instant
BOOT_S = 1.0                # a board's reset takes about this long before it reconnects
CRASH_EVERY_S = 3.0


def raise_file_limit() -> int:
    """One socket per lamp: take the hard limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Runner:
    """A lamp's connection life: connect, serve, lose, back off, again."""

    def __init__(self, lamp: SimLamp, district: "District"):
        self.lamp = lamp
        self.district = district
        self.conn: AsyncMQTT | None = None
        self.lost = asyncio.Event()
        self.powered = asyncio.Event()
        self.powered.set()
        self.fresh_boot = True
        self.next_tele = time.monotonic() + random.uniform(0, district.tele_s(lamp))
        self.task: asyncio.Task | None = None
        cfg = lamp.cfg
        dev = cfg["device"]
        self.presence_topic = topics.presence(dev['site'], dev['street']) if dev.get("street") else None
        self.subscriptions = [(topics.command(dev['site'], lamp.device), 1)] + [
            (topics.group_command(dev['site'], g), 1) for g in dev.get("groups") or ()]
        if self.presence_topic:
            self.subscriptions.append((self.presence_topic, 0))

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.connected

    async def run(self) -> None:
        backoff = 1.0
        lamp, mqtt = self.lamp, self.lamp.cfg["mqtt"]
        while True:
            await self.powered.wait()
            self.lost.clear()
            conn = AsyncMQTT(lamp.device, mqtt["host"], mqtt["port"], mqtt.get("username"), mqtt.get("password"),
                             keepalive_s=mqtt.get("keepalive_s", 60), will=(f"{lamp.root}/status", b"offline", True),
                             ssl=self.district.ssl, on_message=self._message, on_lost=self.lost.set)
            try:
                async with self.district.pacing:
                    session = await conn.connect()
                    if not session:
                        await conn.subscribe(self.subscriptions)
            except (OSError, ConnectRefused, asyncio.TimeoutError) as e:
                self.district.connect_errors += 1
                self.district.last_error = str(e)
                await asyncio.sleep(random.uniform(backoff / 2, backoff))   # the board's full jitter
                backoff = min(backoff * 2, self.district.backoff_max)
                continue
            backoff = 1.0
            self.conn = conn
            lamp.out = self._out
            conn.publish_nowait(f"{lamp.root}/status", b"online", 1, True)
            if self.fresh_boot:
                self.fresh_boot = False
                lamp.booted()
                if lamp.crashloop:
                    asyncio.get_running_loop().call_later(CRASH_EVERY_S, self.reboot, WDT_RESET)
            lamp.publish_state(force=True)
            await self.lost.wait()
            lamp.out = None
            self.conn = None

    def _out(self, kind: str, text: str, retain: bool) -> None:
        if self.conn is not None and self.conn.connected:
            self.conn.publish_nowait(f"{self.lamp.root}/{kind}", text, 1, retain)

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            return  # a retained command is stale by definition: a board ignores it
        if topic == self.presence_topic:
            self.lamp.neighbour(payload)
            return
        then = self.lamp.command(topic, payload)
        if then == "reboot":
            asyncio.get_running_loop().call_later(0.2, self.reboot, SOFT_RESET)
        elif then == "drop":
            asyncio.get_running_loop().call_later(0.2, self.power, False)
        elif then == "crashloop":
            self.lamp.crashloop = True
            asyncio.get_running_loop().call_later(0.5, self.reboot, WDT_RESET)

    # --- what the rig does to a lamp ------------------------------------------------
    def power(self, on: bool) -> None:
        if on and not self.powered.is_set():
            self.lamp.reset_cause = PWRON_RESET
            self.fresh_boot = True
            self.powered.set()
        elif not on and self.powered.is_set():
            self.powered.clear()
            self._cut()

    def reboot(self, cause: int) -> None:
        if not self.powered.is_set():
            return
        if cause == WDT_RESET and not self.lamp.crashloop:
            return  # the loop was fixed meanwhile
        self.powered.clear()
        self._cut()
        self.lamp.reset_cause = cause
        self.fresh_boot = True
        asyncio.get_running_loop().call_later(BOOT_S, self.powered.set)

    def _cut(self) -> None:
        if self.conn is not None:
            self.conn.abort()     # no DISCONNECT: the broker publishes the Will
        self.lost.set()

    def motion(self) -> None:
        event = self.lamp.motion()
        if event is not None and self.connected and self.presence_topic:
            self.conn.publish_nowait(self.presence_topic, json.dumps(event), 0)


class District:
    def __init__(self, configs: list[dict], injections: list[Injection] | None = None, seed: int = 0,
                 tele_s: float | None = None, clock_offset: int = 0, backoff_max: float = 60.0, ssl=None):
        self.injections, self.seed = list(injections or ()), seed
        self.tele_override = tele_s
        self.backoff_max = backoff_max
        self.ssl = ssl
        self.connect_errors = 0
        self.last_error = ""
        self.pacing = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.runners: dict[str, Runner] = {}
        for cfg in configs:
            lamp = SimLamp(cfg, assign(cfg["device"]["id"], self.injections, seed), clock_offset)
            self.runners[lamp.device] = Runner(lamp, self)

    def tele_s(self, lamp: SimLamp) -> float:
        return self.tele_override or lamp.cfg["tele_interval_s"]

    async def run(self, control: Path | None = None) -> None:
        raise_file_limit()
        server = None
        if control is not None:
            control.unlink(missing_ok=True)
            server = await asyncio.start_unix_server(self._serve, path=str(control))
        for r in self.runners.values():
            r.task = asyncio.create_task(r.run())
        try:
            while True:
                await asyncio.sleep(1.0)
                self._tick()
        finally:
            if server is not None:
                server.close()
            for r in self.runners.values():
                r.task.cancel()
                if r.conn is not None:
                    r.conn.abort()   # the lamps are gone: the broker says so with their Wills

    def _tick(self) -> None:
        """Once a second: state on a change the clock brought (a program step, an
        override or presence ending) and tele when due."""
        now = time.monotonic()
        for r in self.runners.values():
            if not r.connected:
                continue
            r.lamp.publish_state()
            if now >= r.next_tele:
                r.next_tele = now + self.tele_s(r.lamp)
                r.lamp.tele()

    # --- control channel: one JSON request per line ---------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    reply = {"ok": True, **(self.control(json.loads(line)) or {})}
                except (ValueError, KeyError, TypeError) as e:
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    def _pick(self, req: dict) -> list[Runner]:
        devices = req.get("devices", "all")
        if devices == "all":
            return list(self.runners.values())
        return [self.runners[d] for d in devices if d in self.runners]

    def control(self, req: dict) -> dict | None:
        op = req["op"]
        if op == "stats":
            return {"lamps": len(self.runners), "connected": sum(r.connected for r in self.runners.values()),
                    "connect_errors": self.connect_errors, "last_error": self.last_error}
        if op == "lamps":
            return {"lamps": {d: {"connected": r.connected, "injection": r.lamp.injection.kind if r.lamp.injection
                                  else None, "boots": r.lamp.boots, "program": r.lamp.program_hash,
                                  "config_hash": r.lamp.config_hash, "state": r.lamp.state(),
                                  "powered": r.powered.is_set()}
                              for d, r in self.runners.items()}}
        if op == "inject":
            self.injections = [Injection(**i) for i in req["injections"]]
            self.seed = req.get("seed", self.seed)
            for d, r in self.runners.items():
                r.lamp.injection = assign(d, self.injections, self.seed)
                if r.lamp.injection is None or r.lamp.injection.kind != "crashloop":
                    r.lamp.crashloop = False
            return None
        if op == "received":
            return {"received": {d: r.lamp.received.get(req["id"], 0) for d, r in self.runners.items()}}
        if op == "power":
            for r in self._pick(req):
                r.power(bool(req["on"]))
            return None
        if op == "reboot":
            for r in self._pick(req):
                r.reboot(SOFT_RESET)
            return None
        if op == "skip_seq":
            for r in self._pick(req):
                r.lamp.skip_next_seq = int(req.get("n", 1))
                r.lamp.tele()
            return None
        if op == "fault":
            for r in self._pick(req):
                (r.lamp.raise_fault if req.get("raise", True) else r.lamp.clear_fault)(req["code"])
                r.lamp.publish_state()
            return None
        if op == "motion":
            for r in self._pick(req):
                r.motion()
            return None
        if op == "tele":
            for r in self._pick(req):
                r.lamp.tele()
            return None
        raise ValueError(f"unknown op {op!r}")


def main(argv: list[str] | None = None) -> None:
    """`python -m host_tools.fleet.sim.district LAMPS.json CONTROL.sock [options as JSON]`: one shard."""
    import sys
    args = argv if argv is not None else sys.argv[1:]
    configs = json.loads(Path(args[0]).read_text())
    opts = json.loads(args[2]) if len(args) > 2 else {}
    district = District(configs, [Injection(**i) for i in opts.get("injections", [])], opts.get("seed", 0),
                        opts.get("tele_s"), opts.get("clock_offset", 0), opts.get("backoff_max", 60.0))

    async def go():
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await district.run(Path(args[1]))
        except asyncio.CancelledError:
            pass

    asyncio.run(go())
    os._exit(0)


if __name__ == "__main__":
    main()
