# The control task's logic: program, presence and overrides in, one lamp level
# out, through the arbiter. Motion arrives from the PIR's interrupt as a flag.
import asyncio
import time

from lampctl import clock, store
from lampctl.arbiter import AmbientSwitch, Arbiter
from lampctl.presence import ANNOUNCE, Presence
from lampctl.program import Evaluator, Program
from lampctl.tz import TZ

LIGHT_SENSORS = ("bh1750", "veml7700")
FADE_STEP_MS = 20       # output updates while a fade runs
IDLE_MS = 1000          # otherwise at least once a second (feeds the watchdog)


class Controller:
    def __init__(self, cfg, lamp, state, events, program_doc=None):
        board = cfg["board"]
        self.cfg = cfg
        self.lamp = lamp
        self.state = state
        self.events = events
        loc = cfg.get("location")
        self.loc = loc
        self.tz = TZ(loc["tz"]) if loc else None
        self.evaluator = None
        self.program_level = cfg["default_level"]
        self.next_change = 0
        fitted = [s["kind"] for s in board.get("sensors") or ()]
        ambient = AmbientSwitch() if any(k in LIGHT_SENSORS for k in fitted) else None
        self.arbiter = Arbiter(lamp.level, safe_level=cfg["failsafe_level"], ambient=ambient,
                               clo_curve=board.get("lumen_depreciation") if cfg.get("constant_light_output") else None,
                               presence_in_ms=cfg["presence_fade_in_ms"], presence_out_ms=cfg["presence_fade_out_ms"])
        self.presence = Presence(level=cfg["presence_level"], hold_ms=cfg["presence_hold_s"] * 1000)
        self.clock_ok = state.clock_valid(clock.utc())
        self.lux = None
        self.mode = None
        self.edges = 0
        self.wake = asyncio.ThreadSafeFlag()
        self.on_announce = None       # set by the remote side: tell the street
        self.program_hash = None
        self.identify_until = None
        self.lag_ms = 0
        if program_doc is not None:
            self.set_program(program_doc)

    # --- inputs ---------------------------------------------------------------
    def on_motion(self, _pin):
        # interrupt context: count and wake the task, nothing else
        self.edges += 1
        self.wake.set()

    def set_program(self, doc):
        """Validate and activate a program document; ProgramError names what is wrong."""
        prog = Program(doc)
        if self.loc is None:
            raise ValueError("program: this board has no location (lat, lon, tz) to place the sun")
        self.evaluator = Evaluator(prog, self.tz, self.loc["lat"], self.loc["lon"])
        self.arbiter.set_limits(prog.min_level, prog.max_level)
        self.state.program = prog.id
        from lampctl.digest import digest
        self.program_hash = digest(doc)
        self.next_change = 0
        self.wake.set()

    def configure(self, changes):
        """Apply a validated partial config (commands.CONFIG_KEYS) and keep it."""
        if "tz" in changes:
            if self.loc is None:
                raise ValueError("tz: this board has no location to apply a time zone to")
            tz = TZ(changes["tz"])  # ValueError names what is wrong, before anything changes
            self.loc["tz"] = changes["tz"]
            self.tz = tz
            if self.evaluator is not None:
                self.evaluator.tz = tz
        for key, value in changes.items():
            if key != "tz":
                self.cfg[key] = value
        self.presence.level_pc = self.cfg["presence_level"]
        self.presence.hold_ms = self.cfg["presence_hold_s"] * 1000
        self.arbiter.safe_level = self.cfg["failsafe_level"]
        if self.evaluator is None:
            self.program_level = self.cfg["default_level"]
        self.next_change = 0
        from lampctl import config
        config.save(self.cfg)

    def neighbour_motion(self):
        self.presence.hold(time.ticks_ms(), self.presence.hold_ms)
        self.wake.set()

    def identify(self, ms):
        self.identify_until = time.ticks_add(time.ticks_ms(), ms)
        self.wake.set()

    def persist(self):
        store.save(self.state, clock.utc() if self.clock_ok else None)

    def prepare_reset(self):
        self.persist()

    def take_lag(self):
        lag, self.lag_ms = self.lag_ms, 0
        return lag

    def clock_set(self, utc, source):
        clock.set_utc(utc)
        self.state.clock_synced = int(utc)
        self.state.clock_source = source
        self.clock_ok = True
        self.next_change = 0
        self.wake.set()

    # --- one decision ---------------------------------------------------------
    def step(self, now):
        """Decide and drive the output; return ms until the next decision."""
        if not self.clock_ok:  # a clock set since boot (RTC restored, NTP, a command)
            self.clock_ok = self.state.clock_valid(clock.utc())
        utc = clock.utc() if self.clock_ok else None
        if utc is not None and self.evaluator is not None and utc >= self.next_change:
            level, nxt = self.evaluator.level(utc)
            self.program_level = level
            self.next_change = nxt if nxt is not None and nxt > utc else utc + 1
        while self.edges:
            self.edges -= 1
            if self.presence.motion(now) == ANNOUNCE:
                self.events.emit("motion", utc)
                if self.on_announce is not None:
                    self.on_announce()
        if self.identify_until is not None:
            if time.ticks_diff(self.identify_until, now) > 0:
                self.lamp.set_level(100 if (now // 500) % 2 else 0)  # blink: find me at the pole
                return FADE_STEP_MS * 5
            self.identify_until = None
        presence = self.presence.level(now, self.program_level) if utc is not None else None
        level, mode = self.arbiter.update(now, utc, self.program_level, presence, self.lux)
        self.lamp.set_level(level)
        self.mode = mode
        if self.arbiter.fade.remaining(now):
            return FADE_STEP_MS
        if utc is not None and self.evaluator is not None:
            return max(FADE_STEP_MS, min(IDLE_MS, (self.next_change - utc) * 1000))
        return IDLE_MS

    async def run(self, wdt):
        while True:
            start = time.ticks_ms()
            wait_ms = self.step(start)
            wdt.feed()  # only a live control loop keeps the board from resetting
            try:
                await asyncio.wait_for_ms(self.wake.wait(), wait_ms)
            except asyncio.TimeoutError:
                # woken late means the loop is starved: report the worst lag
                self.lag_ms = max(self.lag_ms, time.ticks_diff(time.ticks_ms(), start) - wait_ms)
