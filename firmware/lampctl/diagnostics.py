# Faults a lighting engineer acts on: lamp failure, driver fault, day-burner,
# sensor fault, over-temperature and repeated watchdog resets. Each is raised
# once, after its condition has held for a while, and cleared once, after it
# has been gone for a while; update() returns those transitions as events.
# Pure logic: time comes in as now_ms (time.ticks_ms() values).
from lampctl import ConfigError
from lampctl.ticks import ticks_diff
from lampctl.metering import expected_power_w

# The `diagnostics` object of the board's config.json; every key optional.
DEFAULTS = {
    "raise_s": 30,               # a condition holds this long before its fault is raised...
    "clear_s": 30,               # ...and is gone this long before it is cleared
    "lamp_fail_fraction": 0.25,  # lamp failed: on, drawing less than standby + this share of the expected rise
    "power_tolerance": 0.2,      # driver fault: power off the expected by more than this share of rated power
    "day_lux": 500,              # day-burner: on while the light sensor reads at least this...
    "day_burner_s": 600,         # ...for this long (a storm at noon may rightly light the lamp briefly)
    "temp_max_c": 80,            # over-temperature: raised at this...
    "temp_clear_c": 70,          # ...and cleared below this
    "watchdog_resets": 3,        # this many watchdog resets in a row is a fault...
    "watchdog_clear_s": 3600,    # ...until the board has then run this long
}
LAMP_FAILED, DRIVER_FAULT, DAY_BURNER = "lamp_failed", "driver_fault", "day_burner"
SENSOR_FAULT, OVER_TEMPERATURE, WATCHDOG_RESETS = "sensor_fault", "over_temperature", "watchdog_resets"


def check_settings(d):
    """The full settings for a `diagnostics` config object, or ConfigError naming the bad key."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError("diagnostics: expected an object, got %r" % (d,))
    for key in d:
        if key not in DEFAULTS:
            raise ConfigError("diagnostics.%s: unknown setting (known: %s)" % (key, ", ".join(sorted(DEFAULTS))))
    out = {}
    for key, default in DEFAULTS.items():
        v = d.get(key, default)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigError("diagnostics.%s: expected a non-negative number, got %r" % (key, v))
        out[key] = v
    if out["temp_clear_c"] > out["temp_max_c"]:
        raise ConfigError("diagnostics.temp_clear_c: %r is above temp_max_c %r" % (out["temp_clear_c"], out["temp_max_c"]))
    return out


class Fault:
    """One fault's debounce: a changed condition must last before the state follows."""

    def __init__(self, code, where, raise_ms, clear_ms):
        self.code = code
        self.where = where
        self.raise_ms = raise_ms
        self.clear_ms = clear_ms
        self.active = False
        self.detail = ""
        self._since = None

    def step(self, now_ms, condition):
        """True when the fault changes state now. condition None (unknown) holds it as is."""
        if condition is None or condition == self.active:
            self._since = None
            return False
        if self._since is None:
            self._since = now_ms
        if ticks_diff(now_ms, self._since) < (self.clear_ms if self.active else self.raise_ms):
            return False
        self.active = condition
        self._since = None
        return True

    def event(self):
        e = {"fault": self.code, "state": "raised" if self.active else "cleared", "detail": self.detail}
        if self.where:
            e["where"] = self.where
        return e


class Diagnostics:
    def __init__(self, lamp_cfg, settings=None, watchdog_resets=0, now_ms=0):
        """watchdog_resets: watchdog resets in a row before this boot (the app counts them)."""
        s = check_settings(settings)
        self.lamp = lamp_cfg
        self.s = s
        raise_ms, clear_ms = int(s["raise_s"] * 1000), int(s["clear_s"] * 1000)
        self._lamp = Fault(LAMP_FAILED, None, raise_ms, clear_ms)
        self._driver = Fault(DRIVER_FAULT, None, raise_ms, clear_ms)
        self._day = Fault(DAY_BURNER, None, int(s["day_burner_s"] * 1000), clear_ms)
        self._temp = Fault(OVER_TEMPERATURE, None, raise_ms, clear_ms)
        self._wdt = Fault(WATCHDOG_RESETS, None, 0, 0)
        self._sensors = {}  # name -> Fault
        self._faults = [self._lamp, self._driver, self._day, self._temp, self._wdt]
        self._watchdog_resets = watchdog_resets
        self._boot_ms = now_ms

    def update(self, now_ms, level, power_w=None, lux=None, temp_c=None, sensor_errors=()):
        """Judge one moment; return the fault events (raised/cleared) it causes.
        level: commanded %; power_w: MEASURED power or None (never an estimate);
        lux: ambient light or None; temp_c: °C or None;
        sensor_errors: (name, message) of each sensor failing now."""
        events = []  # type: list
        s = self.s
        expected = expected_power_w(level, self.lamp)
        rated = self.lamp["rated_power_w"]
        failed = None
        off_by = None
        if power_w is not None:
            standby = self.lamp["standby_power_w"]
            failed = level > 0 and power_w < standby + s["lamp_fail_fraction"] * (expected - standby)
            off_by = not failed and abs(power_w - expected) > s["power_tolerance"] * rated
        self._step(events, self._lamp, now_ms, failed,
                   "on at %d%%: drawing %.1f W, expected %.1f W", (level, power_w, expected))
        self._step(events, self._driver, now_ms, off_by,
                   "at %d%%: drawing %.1f W, expected %.1f W +/- %.1f W",
                   (level, power_w, expected, s["power_tolerance"] * rated))
        day = None if lux is None else level > 0 and lux >= s["day_lux"]
        self._step(events, self._day, now_ms, day, "on at %d%% in %.0f lx of daylight", (level, lux))
        hot = None
        if temp_c is not None:
            hot = temp_c >= (s["temp_clear_c"] if self._temp.active else s["temp_max_c"])
        self._step(events, self._temp, now_ms, hot, "%.1f C", (temp_c,))
        repeated = (self._watchdog_resets >= s["watchdog_resets"]
                    and ticks_diff(now_ms, self._boot_ms) < s["watchdog_clear_s"] * 1000)
        self._step(events, self._wdt, now_ms, repeated, "%d watchdog resets in a row", (self._watchdog_resets,))
        self._step_sensors(events, now_ms, sensor_errors)
        return events

    def _step(self, events, fault, now_ms, condition, fmt, args):
        if fault.step(now_ms, condition):
            fault.detail = fmt % args
            events.append(fault.event())

    def _step_sensors(self, events, now_ms, errors):
        failing = {}
        for name, message in errors:
            failing[name] = message
            if name not in self._sensors:
                f = Fault(SENSOR_FAULT, name, int(self.s["raise_s"] * 1000), int(self.s["clear_s"] * 1000))
                self._sensors[name] = f
                self._faults.append(f)
        for name, f in self._sensors.items():
            message = failing.get(name)
            if f.step(now_ms, message is not None):
                f.detail = message if f.active else "answering again"
                events.append(f.event())

    def active(self):
        """The faults raised and not cleared, for `state`."""
        out = []
        for f in self._faults:
            if f.active:
                out.append(f.event())
        return out
