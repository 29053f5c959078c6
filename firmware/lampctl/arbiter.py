# The one place that decides the lamp's output, in this order:
#   failsafe (no valid clock) > manual override (until it expires) > presence > program,
# then the lamp's min/max limits, a fade from wherever the output is now (so a
# change of source mid-fade never jumps), and the constant-light-output factor
# (held within min_level too).
# Pure logic: `now` is time.ticks_ms(), `utc` the RTC's UTC seconds or None
# while the clock is not valid.
from lampctl.ticks import ticks_diff
from lampctl.program import clamp_level

SCHEDULE, PRESENCE, OVERRIDE, FAILSAFE = "schedule", "presence", "override", "failsafe"


class AmbientSwitch:
    """Ambient light with hysteresis: on below `on_lux`, off above `off_lux`,
    unchanged between. It starts on: until a reading says it is day, it is night."""

    def __init__(self, on_lux=20.0, off_lux=50.0):
        if not 0 <= on_lux < off_lux:
            raise ValueError("ambient: on_lux %r must be below off_lux %r" % (on_lux, off_lux))
        self.on_lux = on_lux
        self.off_lux = off_lux
        self.on = True

    def update(self, lux):
        if lux < self.on_lux:
            self.on = True
        elif lux > self.off_lux:
            self.on = False
        return self.on


def clo_factor(curve, hours):
    """Constant light output (TALQ CLO): the drive factor after `hours` of
    burning, from a lumen-depreciation curve [[hours, remaining flux], ...]
    (board config `lumen_depreciation`). A new lamp is dimmed to the flux the
    lamp will still give at the end of the curve; the factor rises to 1 there."""
    if not curve:
        return 1.0
    end = curve[-1][1]
    if hours <= curve[0][0]:
        return end / curve[0][1]
    for i in range(1, len(curve)):
        h1, f1 = curve[i]
        if hours <= h1:
            h0, f0 = curve[i - 1]
            return end / (f0 + (f1 - f0) * (hours - h0) / (h1 - h0))
    return 1.0


class Fade:
    """A linear move from the output's current value to a target: monotonic,
    never past the target; a new target starts from wherever the output is."""

    def __init__(self, level):
        self.start = self.target = level
        self.t0 = 0
        self.length = 0

    def at(self, now):
        if self.length > 0:
            dt = ticks_diff(now, self.t0)
            if 0 <= dt < self.length:
                return self.start + (self.target - self.start) * dt / self.length
            self.start, self.length = self.target, 0  # settled: immune to tick wrap
        return self.target

    def remaining(self, now):
        return max(0, self.length - ticks_diff(now, self.t0)) if self.length > 0 else 0

    def to(self, target, length_ms, now):
        if target == self.target:
            return  # the running fade already goes there
        self.start = self.at(now)
        self.target, self.t0, self.length = target, now, length_ms


class Arbiter:
    """level: what the lamp shows at start (boot.py's failsafe level); the
    first decision fades from there to the level for now, so a boot never
    blinks and never replays a stale state.
    Fade times (ms) by cause: follow_ms to track the program's level (which
    the evaluator already fades), switch_ms into and out of failsafe,
    presence_in_ms/presence_out_ms into and back from presence; an override
    brings its own."""

    def __init__(self, level, min_level=0, max_level=100, safe_level=80, ambient=None, clo_curve=None,
                 follow_ms=1000, switch_ms=2000, presence_in_ms=1000, presence_out_ms=10000):
        if not 0 <= safe_level <= 100:
            raise ValueError("safe_level: %r is out of range [0, 100]" % (safe_level,))
        self.set_limits(min_level, max_level)
        self.safe_level = safe_level
        self.ambient = ambient
        self.clo_curve = clo_curve
        self.follow_ms = follow_ms
        self.switch_ms = switch_ms
        self.presence_in_ms = presence_in_ms
        self.presence_out_ms = presence_out_ms
        self.fade = Fade(level)
        self.override = None  # type: tuple | None
        self.mode = None  # type: str | None
        self.clo = 1.0
        # update() runs every tick: in steady state it allocates nothing (no new
        # tuple, no new float) and hands back the same result object.
        self._want_mode = None  # type: str | None
        self._want_fade = 0
        self._out_in = None  # type: float | None
        self._out = (None, None)  # type: tuple

    def set_limits(self, min_level, max_level):
        """The lamp's level limits (a program's min_level/max_level)."""
        for name, v in (("min_level", min_level), ("max_level", max_level)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
                raise ValueError("%s: %r is out of range [0, 100]" % (name, v))
        if min_level > max_level:
            raise ValueError("min_level: %r is above max_level %r" % (min_level, max_level))
        self.min_level = min_level
        self.max_level = max_level

    def set_override(self, level, until=None, fade_ms=1000):
        """Hold `level` until UTC second `until` (None: until cleared)."""
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 100:
            raise ValueError("override level: %r is not a number in [0, 100]" % (level,))
        if until is not None and (isinstance(until, bool) or not isinstance(until, int)):
            raise ValueError("override until: expected UTC seconds or None, got %r" % (until,))
        self.override = (level, until, fade_ms)

    def clear_override(self):
        self.override = None

    def set_burn_hours(self, hours):
        self.clo = clo_factor(self.clo_curve, hours)
        self._out_in = None  # the next update scales the level anew

    def _want(self, mode, fade_ms):
        self._want_mode, self._want_fade = mode, fade_ms

    def _choose(self, utc, program_level, presence_level, lux):
        """The target level; the mode and fade time go to _want_mode, _want_fade."""
        if utc is None:
            self._want(FAILSAFE, self.switch_ms)
            if lux is None or self.ambient is None:
                return self.safe_level
            return self.safe_level if self.ambient.update(lux) else 0
        ov = self.override
        if ov is not None and ov[1] is not None and utc >= ov[1]:
            self.override = ov = None
        if ov is not None:
            self._want(OVERRIDE, ov[2])
            return ov[0]
        if presence_level is not None:
            self._want(PRESENCE, self.presence_in_ms)
            return presence_level
        if self.mode == PRESENCE:
            self._want(SCHEDULE, self.presence_out_ms)
        else:
            self._want(SCHEDULE, self.switch_ms if self.mode == FAILSAFE else self.follow_ms)
        return program_level

    def update(self, now, utc, program_level, presence_level=None, lux=None):
        """(output level %, mode) at `now` ms. program_level is the evaluator's
        level for now (ignored while utc is None), presence_level what
        Presence.level() returned, lux the ambient reading or None."""
        target = clamp_level(self._choose(utc, program_level, presence_level, lux), self.min_level, self.max_level)
        mode, fade_ms = self._want_mode, self._want_fade
        if mode == self.mode:
            fade_ms = max(fade_ms, self.fade.remaining(now))  # a retarget never rushes a fade
        self.mode = mode
        self.fade.to(target, fade_ms, now)
        level = clamp_level(self.fade.at(now), self.min_level, self.max_level)
        if level != self._out_in or mode is not self._out[1]:
            self._out_in = level
            # constant light output dims a new lamp, never below the lowest level its program allows
            self._out = (clamp_level(level * self.clo, self.min_level, 100), mode)
        return self._out
