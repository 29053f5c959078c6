# The board's I2C sensors, built from the board config's `sensors` list: the
# first power monitor and the first light sensor fitted. A sensor that is
# missing or misbehaves is restarted on a growing backoff and listed by
# errors(); nothing here raises into the control loop.
# Pure logic: the bus comes in (a machine.I2C), time comes in as now_ms.
from lampctl import sensor_kinds
from lampctl.drivers import SensorConfigError, SensorError
from lampctl.ticks import ticks_add, ticks_diff

FIRST_RETRY_MS = 1000
MAX_RETRY_MS = 5 * 60 * 1000


def make_driver(i2c, spec):
    if spec["kind"] not in sensor_kinds.KINDS:
        raise SensorConfigError("%s@0x%02x: no driver for this kind" % (spec["kind"], spec["address"]))
    return sensor_kinds.make(i2c, spec)


class Sensor:
    """One fitted sensor: its driver, its last error and when to try it again."""

    def __init__(self, i2c, spec):
        self.name = "%s@0x%02x" % (spec["kind"], spec["address"])
        self.light = sensor_kinds.light_fitted((spec,))
        self.error = None
        self.driver = None
        self.started = False
        self.backoff_ms = 0
        self.retry_at = 0
        try:
            self.driver = make_driver(i2c, spec)
        except SensorConfigError as e:
            self.error = str(e)  # no retry: only a new config helps

    def read(self, now_ms):
        """The driver's reading (W, or lux; None while a light sensor settles),
        or None while it fails. Never raises."""
        d = self.driver
        if d is None:
            return None
        if self.error is not None and ticks_diff(now_ms, self.retry_at) < 0:
            return None
        try:
            value = self._read(d, now_ms)
        except Exception as e:  # a sensor, or its driver, must never stop the lamp
            self.started = False  # the next try configures the chip afresh
            self.error = str(e) if isinstance(e, SensorError) else "%s: %s: %s" % (self.name, type(e).__name__, e)
            self.backoff_ms = min(self.backoff_ms * 2, MAX_RETRY_MS) if self.backoff_ms else FIRST_RETRY_MS
            self.retry_at = ticks_add(now_ms, self.backoff_ms)
            return None
        self.error = None
        self.backoff_ms = 0
        return value

    def _read(self, d, now_ms):
        if self.light:
            if not self.started:
                d.start(now_ms)
                self.started = True
            return d.read(now_ms)
        if not self.started:
            d.start()
            self.started = True
        return d.read() / 1000


class Sensors:
    def __init__(self, i2c, specs):
        """i2c: the machine.I2C the sensors are on (None when none are fitted);
        specs: the board config's `sensors` list."""
        self.all = []
        self.power = self.light = None
        for spec in specs or ():
            s = Sensor(i2c, spec)
            self.all.append(s)
            if s.light and self.light is None:
                self.light = s
            elif not s.light and self.power is None:
                self.power = s
            elif s.error is None:
                s.error = "%s: a second %s is not used" % (s.name, "light sensor" if s.light else "power monitor")
                s.driver = None
        self.power_w = None  # measured W; None while no monitor answers
        self.lux = None      # lux; None while no light sensor answers

    def poll(self, now_ms):
        """Read every sensor that is due; update power_w and lux."""
        if self.power is not None:
            self.power_w = self.power.read(now_ms)
        if self.light is not None:
            lux = self.light.read(now_ms)
            if lux is not None:
                self.lux = lux
            elif self.light.error is not None:
                self.lux = None

    def errors(self):
        """(name, message) of each sensor failing now, for diagnostics."""
        return [(s.name, s.error) for s in self.all if s.error is not None]
