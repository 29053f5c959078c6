# The control task and the controller's API: program, presence and overrides
# in, one lamp level out, through the arbiter. Motion arrives from the PIR's
# interrupt as a flag. Everything else reaches the lamp's brain through the
# methods below, never through its parts (arbiter, persisted state).
import asyncio
import json
import time

from lampctl import clock, config, sensor_kinds, store
from lampctl.arbiter import AmbientSwitch, Arbiter
from lampctl.presence import ANNOUNCE, Presence
from lampctl.program import Evaluator, Program
from lampctl.tz import TZ

PROGRAM_PATH = "program.json"  # the program the board last accepted
FADE_STEP_MS = 20       # output updates while a fade runs
IDLE_MS = 1000          # otherwise at least once a second (feeds the watchdog)
OVERRIDE_MAX_S = 86400  # the longest override a command sets


class Controller:
    def __init__(self, cfg, lamp, state, events):
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
        self.next_change = 0    # UTC second of the program's next change (0: evaluate now)
        self._next_b = 0        # the same on the board's clock (time.time(), a small int)
        self._utc = None        # the last UTC second computed (see step)
        # the failsafe follows the light sensor wherever one is fitted, whatever its kind
        ambient = AmbientSwitch() if sensor_kinds.light_fitted(board.get("sensors")) else None
        self.arbiter = Arbiter(lamp.level, safe_level=cfg["failsafe_level"], ambient=ambient,
                               clo_curve=board.get("lumen_depreciation") if cfg.get("constant_light_output") else None,
                               presence_in_ms=cfg["presence_fade_in_ms"], presence_out_ms=cfg["presence_fade_out_ms"])
        self.presence = Presence(level=cfg["presence_level"], hold_ms=cfg["presence_hold_s"] * 1000)
        # is it dark enough for motion to raise the lamp: the light sensor's word where the board says so
        self.dark = AmbientSwitch() if sensor_kinds.presence_dark(board) == "light_sensor" else None
        self.clock_ok = state.clock_valid(clock.utc())
        self.lux = None
        self.mode = None
        self.edges = 0
        self.wake = asyncio.ThreadSafeFlag()
        self.on_announce = None       # set by the remote side: tell the street
        self.program_hash = None
        self.identify_until = None
        self.lag_ms = 0
        # the running override: [level, until (UTC s or None), fade ms, end (ticks ms or None)];
        # the end in ticks rules, so it ends after its duration whatever the clock does
        self._override = None  # type: list | None

    # --- at boot --------------------------------------------------------------
    def restore(self):
        """Take up what the board had before the reset: its override and the
        program it last accepted (program.json), else the config's program."""
        ov = self.state.override
        if ov is not None:
            if ov[1] is None:  # an end never placed in time (older firmware): it would hold forever
                self.state.override = None
            else:
                self.arbiter.set_override(ov[0], None, ov[2])
                self._override = [ov[0], ov[1], ov[2], None]
        doc = None
        text = store.read_text(PROGRAM_PATH)
        if text is not None:
            try:
                doc = json.loads(text)
            except ValueError:
                pass
        if doc is None:
            doc = self.cfg.get("program")
        if doc is not None:
            try:
                self._activate(doc)
            except ValueError as e:
                self.events.emit("program_rejected", None, detail=str(e))

    # --- inputs ---------------------------------------------------------------
    def on_motion(self, _pin):
        # interrupt context: count and wake the task, nothing else
        self.edges += 1
        self.wake.set()

    def _activate(self, doc):
        prog = Program(doc)
        if self.loc is None:
            raise ValueError("program: this board has no location (lat, lon, tz) to place the sun")
        self.evaluator = Evaluator(prog, self.tz, self.loc["lat"], self.loc["lon"])
        self.arbiter.set_limits(prog.min_level, prog.max_level)
        self.state.program = prog.id
        from lampctl.digest import digest  # with the network side, which reports it
        self.program_hash = digest(doc)
        self.next_change = 0
        self.wake.set()

    def set_program(self, doc):
        """Validate, activate and keep a program document (program.json);
        ValueError names what is wrong, and then nothing changed."""
        self._activate(doc)
        store.write_json_atomic(PROGRAM_PATH, doc)
        self.persist()

    def set_override(self, level, duration_s, fade_ms=1000):
        """Hold `level` % for `duration_s` seconds from now."""
        utc = self.utc()
        duration_s = min(duration_s, OVERRIDE_MAX_S)
        self.arbiter.set_override(level, None, fade_ms)  # ValueError before anything changes
        until = utc + duration_s if utc is not None else None
        self._override = [level, until, fade_ms, time.ticks_add(time.ticks_ms(), duration_s * 1000)]
        # an end not yet placed in time is not kept: it is placed once the clock is known
        self.state.override = (level, until, fade_ms) if until is not None else None
        self.persist()
        self.wake.set()

    def clear_override(self):
        self.arbiter.clear_override()
        self._override = None
        self.state.override = None
        self.persist()
        self.wake.set()

    def set_ambient(self, lux):
        """The light sensor's reading in lux, or None while it gives none."""
        self.lux = lux

    def set_burn_hours(self, hours):
        """The lamp's burn hours, for constant light output."""
        self.arbiter.set_burn_hours(hours)

    def configure(self, changes):
        """Apply a validated partial config (commands.CONFIG_KEYS) and keep it."""
        if "tz" in changes:
            if self.loc is None:
                raise ValueError("tz: this board has no location to apply a time zone to")
            tz = TZ(changes["tz"])  # ValueError names what is wrong, before anything changes
            self.loc["tz"] = changes["tz"]
            self.tz = tz
            if self.evaluator is not None:
                self.evaluator.set_tz(tz)
        for key, value in changes.items():
            if key != "tz":
                self.cfg[key] = value
        self.presence.level_pc = self.cfg["presence_level"]
        self.presence.hold_ms = self.cfg["presence_hold_s"] * 1000
        self.arbiter.safe_level = self.cfg["failsafe_level"]
        if self.evaluator is None:
            self.program_level = self.cfg["default_level"]
        self.next_change = 0
        config.save(self.cfg)
        self.wake.set()

    def neighbour_motion(self):
        self.presence.hold(time.ticks_ms(), self.presence.hold_ms)
        self.wake.set()

    def identify(self, ms):
        self.identify_until = time.ticks_add(time.ticks_ms(), ms)
        self.wake.set()

    def clock_set(self, utc, source):
        """The time from NTP or a command; False (nothing changed) for a time
        before store.EARLIEST_VALID: a server that lost its own time (the 2000
        a reset RTC restarts at) must not pass for a clock and light the wrong night."""
        if utc < store.EARLIEST_VALID:
            return False
        clock.set_utc(utc)
        self.state.clock_synced = int(utc)
        self.state.clock_source = source
        self.clock_ok = True
        self.next_change = 0
        self.persist()
        self.wake.set()
        return True

    # --- outputs --------------------------------------------------------------
    def utc(self):
        """UTC seconds, or None while the clock is not known."""
        return clock.utc() if self.clock_ok else None

    def level(self):
        """The level (%) the lamp shows now."""
        return self.lamp.level

    def snapshot(self):
        """What the fleet sees of the lamp's brain (the `state` uplink's part)."""
        return {"level": round(self.arbiter.fade.target, 1), "mode": self.mode, "program": self.state.program,
                "program_hash": self.program_hash,
                "clock": (self.state.clock_source or "rtc") if self.clock_ok else "unknown"}

    def persist(self):
        store.save(self.state, self.utc())

    def take_lag(self):
        lag, self.lag_ms = self.lag_ms, 0
        return lag

    # --- one decision ---------------------------------------------------------
    def _expire_override(self, now, utc):
        ov = self._override
        if ov is None:
            return
        if utc is not None:
            if ov[3] is None:  # restored after a reset: its end in ticks from its end in time
                ov[3] = time.ticks_add(now, min(max(0, ov[1] - utc), OVERRIDE_MAX_S) * 1000)
            elif ov[1] is None:  # set while the clock was unknown: now it can be kept
                ov[1] = utc + max(0, time.ticks_diff(ov[3], now)) // 1000
                self.state.override = (ov[0], ov[1], ov[2])
                self.persist()
        if ov[3] is not None and time.ticks_diff(now, ov[3]) >= 0:
            self.clear_override()

    def step(self, now):
        """Decide and drive the output; return ms until the next decision.

        In steady state a step allocates nothing: a UTC second is above 2^30, a
        heap-allocated big int on the ESP32, so the step counts on the board's
        own clock (seconds since 2000, a small int until 2034) and makes a UTC
        value only when something needs one: the program's next change, an
        override restored across a reset, a motion event."""
        if not self.clock_ok:  # a clock set since boot (RTC restored, NTP, a command)
            self.clock_ok = self.state.clock_valid(clock.utc())
        b = time.time() if self.clock_ok else None
        utc = None
        ov = self._override
        if b is not None and ov is not None and (ov[3] is None or ov[1] is None):
            utc = clock.utc()   # an override restored or set without a clock: placed in time now
        self._expire_override(now, utc)
        if b is not None and self.evaluator is not None and (self.next_change == 0 or b >= self._next_b):
            utc = clock.utc()
            level, nxt = self.evaluator.level(utc)
            self.program_level = level
            self.next_change = nxt if nxt is not None and nxt > utc else utc + 1
            self._next_b = self.next_change - clock.EPOCH_OFFSET
        if b is not None and utc is None and self._utc is None:
            utc = clock.utc()
        if utc is not None:
            self._utc = utc
        elif b is not None:
            utc = self._utc   # the arbiter only asks whether the clock is known (overrides end on ticks here)
        while self.edges:
            self.edges -= 1
            if self.presence.motion(now) == ANNOUNCE:
                self.events.emit("motion", clock.utc() if b is not None else None)
                if self.on_announce is not None:
                    self.on_announce()
        if self.identify_until is not None:
            if time.ticks_diff(self.identify_until, now) > 0:
                self.lamp.set_level(100 if (now // 500) % 2 else 0)  # blink: find me at the pole
                return FADE_STEP_MS * 5
            self.identify_until = None
        dark = self.dark.update(self.lux) if self.dark is not None and self.lux is not None else None
        presence = self.presence.level(now, self.program_level, dark) if utc is not None else None
        level, mode = self.arbiter.update(now, utc, self.program_level, presence, self.lux)
        self.lamp.set_level(level)
        self.mode = mode
        if self.arbiter.fade.remaining(now):
            return FADE_STEP_MS
        wait = IDLE_MS
        if b is not None and self.evaluator is not None:
            wait = FADE_STEP_MS if self._next_b <= b else IDLE_MS
        if self._override is not None and self._override[3] is not None:
            wait = max(0, min(wait, time.ticks_diff(self._override[3], now)))
        return wait

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
