"""One simulated lamp: what a board says and how it answers, without I/O.

Commands go through the firmware's own validation (lampctl.commands), programs
through its own evaluator (lampctl.program) and the state's hashes through its
own digest (lampctl.digest), so a simulated lamp's answers are a board's. The
runtime (district.py) carries its uplinks over MQTT via `out`."""
from __future__ import annotations

import json
import time
from functools import lru_cache

from ...paths import firmware_module
from .injection import Injection

commands = firmware_module("commands")
program = firmware_module("program")
digest = firmware_module("digest")
tz_module = firmware_module("tz")
presence = firmware_module("presence")
topics = firmware_module("topics")
config_defaults = firmware_module("config").DEFAULTS

FW_VERSION = "0.1.0-sim"
PWRON_RESET, WDT_RESET, SOFT_RESET = 1, 3, 5   # machine.reset_cause() values, as a board reports them
RATED_W = 60.0


@lru_cache(maxsize=256)
def _parse(name: str, payload: bytes):
    """A group command is the same bytes for every lamp: check it once."""
    try:
        return commands.parse(name, payload), None
    except commands.CommandError as e:
        return None, e


@lru_cache(maxsize=64)
def _tz(text: str):
    return tz_module.TZ(text)


def ticks_ms() -> int:
    return int(time.monotonic() * 1000) & (0x40000000 - 1)


class SimLamp:
    def __init__(self, cfg: dict, injection: Injection | None = None, clock_offset: int = 0):
        """cfg: the lamp's config.json as provisioning renders it (device, location, mqtt, settings)."""
        self.cfg = cfg
        for key, value in config_defaults.items():
            cfg.setdefault(key, value)
        dev = cfg["device"]
        self.device = dev["id"]
        self.root = topics.root(dev['site'], self.device)
        self.injection = injection
        self.clock_offset = clock_offset      # the lamp's UTC minus the host's
        self.out = None                       # out(kind, body_or_text, retain, qos): set by the runtime
        self.powered = True
        self.seq = 0
        self.boots = 0
        self.reset_cause = PWRON_RESET
        self.recent = commands.RecentIds(32)
        self.received: dict = {}              # command id -> times it arrived (tests: nothing sent twice)
        self.doc = None
        self.evaluator = None
        self.program_hash = None
        self.override = None                  # (level, until utc or None)
        self.presence_until = 0.0
        self.faults: list[dict] = []
        self.energy_wh = 0.0
        self.burn_h = 0.0
        self.cycles = 0
        self.last_level = 0.0
        self.metered_at = time.monotonic()
        self.config_hash = digest.config_hash(cfg)
        self.neighbours = presence.Neighbours(self.device, dev.get("position", 0),
                                              ahead=cfg["neighbour_lamps"]) if dev.get("street") else None
        self.last_state = None
        self.crashloop = False
        self.skip_next_seq = 0

    # --- clock and level ----------------------------------------------------------
    def utc(self) -> int:
        return int(time.time()) + self.clock_offset

    def decide(self) -> tuple[float, str]:
        """(level %, mode) now, as the board's arbiter would settle."""
        utc = self.utc()
        if self.override is not None:
            level, until = self.override
            if until is None or utc < until:
                return float(level), "override"
            self.override = None
        if self.evaluator is not None:
            base, _ = self.evaluator.level(utc)
        else:
            base = self.cfg["default_level"]
        if time.monotonic() < self.presence_until:
            return float(max(base, self.cfg["presence_level"])), "presence"
        return float(base), "schedule"

    def state(self) -> dict:
        level, mode = self.decide()
        return {"level": round(level, 1), "mode": mode, "program": self.doc["id"] if self.doc else None,
                "program_hash": self.program_hash, "config_hash": self.config_hash, "fw": FW_VERSION,
                "clock": "ntp", "faults": list(self.faults)}

    def meter(self) -> None:
        now = time.monotonic()
        hours = (now - self.metered_at) / 3600
        self.metered_at = now
        if self.last_level > 0:
            self.energy_wh += RATED_W * self.last_level / 100 * hours
            self.burn_h += hours

    # --- uplinks ------------------------------------------------------------------
    def _stamp(self, body: dict) -> str:
        self.seq += 1 + self.skip_next_seq    # a skipped seq is a message lost on the way
        self.skip_next_seq = 0
        body["seq"] = self.seq
        body["ts"] = self.utc()
        return json.dumps(body, separators=(",", ":"))

    def send(self, kind: str, body: dict, retain: bool = False) -> None:
        if self.out is not None:
            self.out(kind, self._stamp(body), retain)

    def ack(self, cmd_id, ok: bool, error: str | None = None, **extra) -> None:
        body = {"id": cmd_id, "ok": ok}
        if error is not None:
            body["error"] = error
        body.update(extra)
        self.send("ack", body)

    def publish_state(self, force: bool = False) -> None:
        st = self.state()
        if force or st != self.last_state:
            level = st["level"]
            if level > 0 >= self.last_level:
                self.cycles += 1
            self.meter()
            self.last_level = level
            self.last_state = st
            self.send("state", dict(st), retain=True)

    def tele(self) -> None:
        self.meter()
        self.send("tele", {"power_w": round(RATED_W * self.last_level / 100, 3), "estimated": True,
                           "energy_wh": round(self.energy_wh, 2), "burn_h": round(self.burn_h, 3),
                           "cycles": self.cycles, "lux": None, "temp_c": 30.0, "rssi": -60 - hash(self.device) % 25,
                           "heap_free": 44000, "heap_low": 41000, "uptime_s": 0, "loop_lag_ms": 0})

    def booted(self) -> None:
        """A (re)start: seq from 1, a boot event, then the state (as app.py does)."""
        self.seq = 0
        self.boots += 1
        self.last_state = None
        self.send("event", {"kind": "boot", "reset_cause": self.reset_cause, "version": FW_VERSION})

    def raise_fault(self, code: str, detail: str = "simulated") -> None:
        fault = {"fault": code, "state": "raised", "detail": detail}
        self.faults = [f for f in self.faults if f["fault"] != code] + [fault]
        self.send("event", {"kind": "fault", **fault})

    def clear_fault(self, code: str) -> None:
        if any(f["fault"] == code for f in self.faults):
            self.faults = [f for f in self.faults if f["fault"] != code]
            self.send("event", {"kind": "fault", "fault": code, "state": "cleared", "detail": "simulated"})

    # --- commands -----------------------------------------------------------------
    def command(self, topic: str, payload: bytes) -> str | None:
        """Answer one command as the board does. Returns what the runtime must do
        next: None, 'reboot', 'drop' or 'crashloop'."""
        name = topics.command_name(topic)
        cmd, err = _parse(name, bytes(payload))
        if err is not None:
            self.ack(err.id, False, str(err))
            return None
        cmd_id = cmd["id"]
        self.received[cmd_id] = self.received.get(cmd_id, 0) + 1
        inj = self.injection
        hit = inj is not None and (inj.on is None or inj.on == name)
        if hit and inj.kind == "silent":
            return None
        if cmd_id in self.recent:
            self.ack(cmd_id, True, duplicate=True)
            return None
        if hit and inj.kind == "refuse":
            self.ack(cmd_id, False, f"{name}: flash_error: could not keep it (simulated fault)")
            return None
        try:
            extra = self._apply(cmd) or {}
        except ValueError as e:  # valid in form, refused by the lamp's own rules
            self.ack(cmd_id, False, str(e))
            return None
        self.recent.add(cmd_id)
        self.ack(cmd_id, True, **extra)
        self.publish_state()
        if cmd["cmd"] == "reboot":
            return "reboot"
        if hit and inj.kind in ("drop", "crashloop"):
            return inj.kind
        return None

    def _apply(self, cmd: dict) -> dict | None:
        name = cmd["cmd"]
        if name == "level":
            if cmd["level"] is None:
                self.override = None
            else:
                self.override = (cmd["level"], self.utc() + cmd["duration_s"])
        elif name == "program":
            self.set_program(cmd["program"])
        elif name == "config":
            changes = cmd["set"]
            tz = _tz(changes["tz"]) if "tz" in changes else None   # ValueError names the fault, before any change
            for key, value in changes.items():
                if key == "tz":
                    self.cfg["location"]["tz"] = value
                else:
                    self.cfg[key] = value
            if tz is not None and self.evaluator is not None:
                self.evaluator.tz = tz
            if self.neighbours is not None:
                self.neighbours.ahead = self.cfg["neighbour_lamps"]
            self.config_hash = digest.config_hash(self.cfg)
        elif name == "time":
            self.clock_offset = cmd["utc"] - int(time.time())
        elif name == "ping":
            if cmd["state"]:
                self.last_state = None   # published again after the ack
            return {"pong": self.utc()}
        elif name == "lamp_replaced":
            was = {"burn_h_was": round(self.burn_h, 3), "cycles_was": self.cycles}
            self.burn_h, self.cycles = float(cmd["burn_h"]), 0
            return was
        return None

    def set_program(self, doc: dict) -> None:
        prog = program.Program(doc)
        loc = self.cfg.get("location")
        if not loc:
            raise ValueError("program: this board has no location (lat, lon, tz) to place the sun")
        self.evaluator = program.Evaluator(prog, _tz(loc["tz"]), loc["lat"], loc["lon"])
        self.doc = doc
        self.program_hash = digest.digest(doc)

    # --- neighbour presence ---------------------------------------------------------
    def motion(self) -> dict | None:
        """Motion at this pole: the presence event to publish, and the lamp lights."""
        self.presence_until = time.monotonic() + self.cfg["presence_hold_s"]
        self.send("event", {"kind": "motion"})
        self.publish_state()
        return self.neighbours.announce(ticks_ms()) if self.neighbours is not None else None

    def neighbour(self, payload: bytes) -> None:
        if self.neighbours is None:
            return
        try:
            light = self.neighbours.receive(json.loads(payload), ticks_ms())
        except ValueError:
            return  # a malformed neighbour event is ignored, as by a board
        if light:
            self.presence_until = time.monotonic() + self.cfg["presence_hold_s"]
            self.publish_state()
